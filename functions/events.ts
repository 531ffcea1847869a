/**
 * The events the scheduled functions (scan, seal) and the import function receive, as zod
 * schemas: Powertools' EventBridgeSchema, S3Schema and S3EventNotificationEventBridgeSchema
 * (@aws-lambda-powertools/parser 2.35), field for field. Ours, not imported: each of the
 * parser's modules imports zod as `{ z }`, a namespace a bundler cannot shake, which puts
 * all of zod (every locale) into a bundle, some 350 KB of a Lambda's 1 MB budget.
 */
import * as z from 'zod';
import { ImportError } from '../shared/core/import/errors.ts';
import { issueLines } from '../shared/issues.ts';

/** An EventBridge event: a schedule's (`detail-type` "Scheduled Event"), or S3's. */
export const eventBridgeSchema = z.object({
  version: z.string(),
  id: z.string(),
  source: z.string(),
  account: z.string(),
  time: z.iso.datetime(),
  region: z.string(),
  resources: z.array(z.string()),
  'detail-type': z.string(),
  detail: z.unknown(),
  'replay-name': z.string().optional(),
});

const s3Identity = z.object({ principalId: z.string() });

const s3RecordSchema = z.object({
  eventVersion: z.string(),
  eventSource: z.literal('aws:s3'),
  awsRegion: z.string(),
  eventTime: z.iso.datetime(),
  eventName: z.string(),
  userIdentity: s3Identity,
  requestParameters: z.object({ sourceIPAddress: z.union([z.ipv4(), z.literal('s3.amazonaws.com')]) }),
  responseElements: z.object({ 'x-amz-request-id': z.string(), 'x-amz-id-2': z.string() }),
  s3: z.object({
    s3SchemaVersion: z.string(),
    configurationId: z.string(),
    object: z.object({
      key: z.string(),
      size: z.number().optional(),
      urlDecodedKey: z.string().optional(),
      eTag: z.string().optional(),
      sequencer: z.string().optional(),
      versionId: z.string().optional(),
    }),
    bucket: z.object({ name: z.string(), ownerIdentity: s3Identity, arn: z.string() }),
  }),
  glacierEventData: z
    .object({ restoreEventData: z.object({ lifecycleRestorationExpiryTime: z.string(), lifecycleRestoreStorageClass: z.string() }) })
    .optional(),
});

/** An S3 event notification delivered to Lambda directly. */
export const s3NotificationSchema = z.object({ Records: z.array(s3RecordSchema).min(1) });

/** An S3 event notification delivered through EventBridge. */
export const s3EventBridgeSchema = eventBridgeSchema.extend({
  detail: z.object({
    version: z.string(),
    bucket: z.object({ name: z.string() }),
    object: z.object({
      key: z.string(),
      size: z.number().nonnegative().optional(),
      etag: z.string().optional(),
      'version-id': z.string().optional(),
      sequencer: z.string().optional(),
    }),
    'request-id': z.string(),
    requester: z.string(),
    'source-ip-address': z.ipv4().optional(),
    reason: z.string().optional(),
    'deletion-type': z.string().optional(),
    'restore-expiry-time': z.string().optional(),
    'source-storage-class': z.string().optional(),
    'destination-storage-class': z.string().optional(),
    'destination-access-tier': z.string().optional(),
  }),
});

/** The event that invoked the import function is no S3 notification (of either shape); retrying it cannot help. */
export class ImportEventError extends ImportError {
  override readonly name = 'ImportEventError';
}

/** `event` as `schema` describes it, or {@link ImportEventError} naming each problem. */
export function parseImportEvent<S extends z.ZodType>(schema: S, event: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(event);
  if (parsed.success) return parsed.data;
  throw new ImportEventError(`not ${what}: ${issueLines(parsed.error).join('; ')}`, { cause: parsed.error });
}

/**
 * A manual invocation of the import function (`aws lambda invoke`), for a bundle lost for
 * good: the bundles named, from the inbox bucket, imported together out of sequence (as
 * `ferry import --allow-gap`). `allowGap` must be said in so many words.
 */
export const gapImportEventSchema = z.strictObject({
  bucket: z.string().min(1),
  bundles: z.array(z.string().regex(/^bundles\/[^/]+\.tar$/, 'must be bundles/<name>.tar')).min(1),
  allowGap: z.literal(true),
});
export type GapImportEvent = z.output<typeof gapImportEventSchema>;

/**
 * What the reconcile schedule hands the scan function (its rule's fixed input): a full
 * reconcile of deletions for repositories with `deletions: carry`, instead of a scan.
 */
export const reconcileEventSchema = z.strictObject({ reconcile: z.literal(true) });
export type ReconcileEvent = z.output<typeof reconcileEventSchema>;
