/**
 * What the AWS calls of the serverless flow cost: published on-demand prices of us-east-1
 * and the arithmetic from counted calls to dollars. Pure: bench/cost.ts counts, this prices,
 * test/aws-prices.test.ts checks the arithmetic.
 *
 * Prices taken on 2026-12-02 (list prices, no free tier, no Savings Plans, lowest-volume tier):
 * - S3 Standard: $0.005 per 1,000 PUT, COPY, POST, LIST; $0.0004 per 1,000 GET, SELECT and
 *   all other requests; DELETE and CANCEL (abort multipart) free.
 *   https://aws.amazon.com/s3/pricing/ (cross-checked: https://c3x.dev/blog/s3-request-fees-explained)
 * - SQS standard queue: $0.40 per million requests; every 64 KiB chunk of a request's payload
 *   counts as one request. https://aws.amazon.com/sqs/pricing/
 *   (cross-checked: https://cloudburn.io/blog/amazon-sqs-pricing, March 2026)
 * - DynamoDB on-demand, Standard table class: $0.625 per million write request units, $0.125
 *   per million read request units (the November 2024 prices).
 *   https://aws.amazon.com/dynamodb/pricing/on-demand/ — not confirmed on AWS's own page here;
 *   the figure as widely published (https://airbyte.com/data-engineering-resources/dynamodb-pricing).
 * - Lambda: $0.20 per million requests; $0.0000133334 per GB-second on arm64 ($0.0000166667
 *   on x86_64), first tier. https://aws.amazon.com/lambda/pricing/
 *   (cross-checked: https://cloudchipr.com/blog/aws-lambda-pricing)
 * - KMS: $0.15 per 10,000 asymmetric requests other than RSA 2048 (the signing keys are
 *   ECC_NIST_P256); $0.03 per 10,000 symmetric. https://aws.amazon.com/kms/pricing/ — the
 *   asymmetric figure not confirmed on AWS's page here; as published ("5× the symmetric
 *   rate", https://www.factualminds.com/blog/aws-kms-pricing-keys-requests-multi-region/).
 * - Secrets Manager: $0.05 per 10,000 API calls. https://aws.amazon.com/secrets-manager/pricing/
 * - CloudWatch Logs: $0.50 per GB ingested (Standard class). https://aws.amazon.com/cloudwatch/pricing/
 *   — the widely published figure, not confirmed on AWS's page here.
 * Listed apart, never in a total (they follow bytes and time, not artifacts): S3 Standard
 * storage $0.023 per GB-month, data transfer out to the internet $0.09 per GB (the carry of
 * a bundle across the gap), X-Ray $5.00 per million traces recorded (sampled: by default 1
 * per second plus 5%), monthly charges per KMS key ($1) and per secret ($0.40).
 */

export const PRICES_TAKEN = '2026-12-02';

export const AWS_PRICES = {
  region: 'us-east-1',
  s3: { putCopyPostListPer1000: 0.005, getAndOtherPer1000: 0.0004 },
  sqs: { perMillionRequests: 0.4, chunkBytes: 64 * 1024 },
  dynamo: { perMillionWru: 0.625, perMillionRru: 0.125 },
  lambda: { perMillionRequests: 0.2, perGbSecond: { arm64: 0.0000133334, x86_64: 0.0000166667 } },
  kms: { asymmetricPer10000: 0.15 },
  secretsManager: { per10000: 0.05 },
  logs: { perGbIngested: 0.5 },
  apart: { s3StoragePerGbMonth: 0.023, transferOutPerGb: 0.09 },
} as const;

export type AwsPrices = typeof AWS_PRICES;

export type S3Class = 'putCopyPostList' | 'getAndOther' | 'free';

/** S3's request classes by operation: writes and listings, free deletes and aborts, everything else a GET. */
export function s3ClassOf(operation: string): S3Class {
  if (/^(Delete|AbortMultipartUpload)/.test(operation)) return 'free';
  if (/^(Put|Copy|Post|List|CreateMultipartUpload|UploadPart|CompleteMultipartUpload|CreateBucket|RestoreObject)/.test(operation)) return 'putCopyPostList';
  return 'getAndOther';
}

/** SQS bills a request per 64 KiB chunk of its payload, at least one. */
export function sqsRequestsOf(payloadBytes: number, prices: AwsPrices = AWS_PRICES): number {
  return Math.max(1, Math.ceil(payloadBytes / prices.sqs.chunkBytes));
}

/** Lambda bills duration rounded up to the millisecond, times configured memory in GB (MB ÷ 1024). */
export function gbSecondsOf(durationMs: number, memoryMb: number): number {
  return (Math.ceil(durationMs) / 1000) * (memoryMb / 1024);
}

/** Billable quantities; fractional after scaling to a number of artifacts. */
export interface AwsUsage {
  s3: { putCopyPostList: number; getAndOther: number; free: number };
  sqs: { calls: number; requests: number };
  dynamo: { calls: number; rru: number; wru: number };
  lambda: { invocations: number; gbSeconds: { arm64: number; x86_64: number } };
  kms: { requests: number };
  secretsManager: { requests: number };
  logs: { bytes: number };
}

export type Service = keyof AwsUsage;

export const SERVICES: Service[] = ['s3', 'sqs', 'dynamo', 'lambda', 'kms', 'secretsManager', 'logs'];

export function emptyUsage(): AwsUsage {
  return {
    s3: { putCopyPostList: 0, getAndOther: 0, free: 0 },
    sqs: { calls: 0, requests: 0 },
    dynamo: { calls: 0, rru: 0, wru: 0 },
    lambda: { invocations: 0, gbSeconds: { arm64: 0, x86_64: 0 } },
    kms: { requests: 0 },
    secretsManager: { requests: 0 },
    logs: { bytes: 0 },
  };
}

/** Every quantity × `factor` (e.g. 10,000 ÷ artifacts measured). */
export function scaleUsage(usage: AwsUsage, factor: number): AwsUsage {
  const scale = <T>(value: T): T =>
    (typeof value === 'number' ? value * factor : Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, scale(v)]))) as T;
  return scale(usage);
}

export type Dollars = Record<Service, number> & { total: number };

/** Dollars per service and in total at `prices`. */
export function dollarsOf(usage: AwsUsage, prices: AwsPrices = AWS_PRICES): Dollars {
  const perService: Record<Service, number> = {
    s3: (usage.s3.putCopyPostList * prices.s3.putCopyPostListPer1000 + usage.s3.getAndOther * prices.s3.getAndOtherPer1000) / 1000,
    sqs: (usage.sqs.requests * prices.sqs.perMillionRequests) / 1e6,
    dynamo: (usage.dynamo.wru * prices.dynamo.perMillionWru + usage.dynamo.rru * prices.dynamo.perMillionRru) / 1e6,
    lambda:
      (usage.lambda.invocations * prices.lambda.perMillionRequests) / 1e6 +
      usage.lambda.gbSeconds.arm64 * prices.lambda.perGbSecond.arm64 +
      usage.lambda.gbSeconds.x86_64 * prices.lambda.perGbSecond.x86_64,
    kms: (usage.kms.requests * prices.kms.asymmetricPer10000) / 10_000,
    secretsManager: (usage.secretsManager.requests * prices.secretsManager.per10000) / 10_000,
    logs: (usage.logs.bytes / 2 ** 30) * prices.logs.perGbIngested,
  };
  return { ...perService, total: SERVICES.reduce((sum, service) => sum + perService[service], 0) };
}
