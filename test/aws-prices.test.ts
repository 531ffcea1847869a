/**
 * The cost benchmark's arithmetic (bench/aws-prices.ts): counted requests, capacity units,
 * GB-seconds and log bytes to dollars at the dated price table. The expected dollars are
 * written out, so a change to the table or the arithmetic shows here, not only in a printed row.
 */
import { describe, expect, it } from 'vitest';
import { AWS_PRICES, dollarsOf, emptyUsage, gbSecondsOf, PRICES_TAKEN, s3ClassOf, scaleUsage, sqsRequestsOf, type AwsUsage } from '../bench/aws-prices.ts';

function usage(): AwsUsage {
  const u = emptyUsage();
  u.s3 = { putCopyPostList: 1_000, getAndOther: 10_000, free: 500 };
  u.sqs = { calls: 900_000, requests: 1_000_000 };
  u.dynamo = { calls: 1_500_000, wru: 1_000_000, rru: 2_000_000 };
  u.lambda = { invocations: 1_000_000, gbSeconds: { arm64: 10_000, x86_64: 0 } };
  u.kms = { requests: 10_000 };
  u.secretsManager = { requests: 20_000 };
  u.logs = { bytes: 2 ** 30 };
  return u;
}

describe('the cost arithmetic', () => {
  it('prices each service at the us-east-1 on-demand table and sums them', () => {
    // Act
    const dollars = dollarsOf(usage());

    // Assess: 1k PUT $0.005 + 10k GET $0.004; 1M SQS $0.40; 1M WRU $0.625 + 2M RRU $0.25;
    // 1M invocations $0.20 + 10,000 GB-s arm64 $0.133334; 10k KMS $0.15; 20k Secrets Manager $0.10; 1 GiB logs $0.50
    expect(PRICES_TAKEN).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(dollars.s3).toBeCloseTo(0.009, 10);
    expect(dollars.sqs).toBeCloseTo(0.4, 10);
    expect(dollars.dynamo).toBeCloseTo(0.875, 10);
    expect(dollars.lambda).toBeCloseTo(0.333334, 10);
    expect(dollars.kms).toBeCloseTo(0.15, 10);
    expect(dollars.secretsManager).toBeCloseTo(0.1, 10);
    expect(dollars.logs).toBeCloseTo(0.5, 10);
    expect(dollars.total).toBeCloseTo(0.009 + 0.4 + 0.875 + 0.333334 + 0.15 + 0.1 + 0.5, 10);
  });

  it('charges x86_64 GB-seconds at their own price and nothing for free S3 requests', () => {
    // Prepare
    const u = emptyUsage();
    u.lambda.gbSeconds.x86_64 = 10_000;
    u.s3.free = 1_000_000;

    // Act
    const dollars = dollarsOf(u);

    // Assess
    expect(dollars.lambda).toBeCloseTo(0.166667, 10);
    expect(dollars.s3).toBe(0);
    expect(dollars.total).toBeCloseTo(0.166667, 10);
  });

  it('sorts S3 operations into their request classes', () => {
    // Act
    const classes = Object.fromEntries(
      ['PutObject', 'CopyObject', 'CreateMultipartUpload', 'UploadPart', 'UploadPartCopy', 'CompleteMultipartUpload', 'ListObjectsV2', 'GetObject', 'HeadObject', 'GetObjectTagging', 'DeleteObject', 'DeleteObjects', 'AbortMultipartUpload'].map((op) => [op, s3ClassOf(op)]),
    );

    // Assess
    expect(classes).toEqual({
      PutObject: 'putCopyPostList',
      CopyObject: 'putCopyPostList',
      CreateMultipartUpload: 'putCopyPostList',
      UploadPart: 'putCopyPostList',
      UploadPartCopy: 'putCopyPostList',
      CompleteMultipartUpload: 'putCopyPostList',
      ListObjectsV2: 'putCopyPostList',
      GetObject: 'getAndOther',
      HeadObject: 'getAndOther',
      GetObjectTagging: 'getAndOther',
      DeleteObject: 'free',
      DeleteObjects: 'free',
      AbortMultipartUpload: 'free',
    });
  });

  it('counts an SQS request per started 64 KiB of payload, at least one', () => {
    // Act / Assess
    expect([0, 1, 65_536, 65_537, 256 * 1024].map((bytes) => sqsRequestsOf(bytes))).toEqual([1, 1, 1, 2, 4]);
    expect(AWS_PRICES.sqs.chunkBytes).toBe(65_536);
  });

  it('bills Lambda duration rounded up to the millisecond, times memory in GB of 1,024 MB', () => {
    // Act / Assess
    expect(gbSecondsOf(1.2, 512)).toBeCloseTo(0.001, 12);
    expect(gbSecondsOf(1000, 1024)).toBe(1);
    expect(gbSecondsOf(250, 1536)).toBeCloseTo(0.375, 12);
  });

  it('scales every quantity to a number of artifacts, leaving the measured usage as it was', () => {
    // Prepare
    const measured = usage();

    // Act
    const per10k = scaleUsage(measured, 10_000 / 400);

    // Assess
    expect(per10k.s3.getAndOther).toBe(250_000);
    expect(per10k.lambda.gbSeconds.arm64).toBe(250_000);
    expect(per10k.logs.bytes).toBe(25 * 2 ** 30);
    expect(dollarsOf(per10k).total).toBeCloseTo(25 * dollarsOf(measured).total, 10);
    expect(measured.s3.getAndOther).toBe(10_000);
  });
});
