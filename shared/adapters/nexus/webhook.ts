/**
 * Nexus repository webhooks (`rm:repository:component`, `rm:repository:asset`) as Nexus
 * sends them: the HMAC-SHA1 signature over the exact body bytes, and the body's schema.
 * What an event means for Ferry (the copy tasks) is the core's (core/export/webhook-tasks.ts).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import { issueMessage, issuePath } from '../../issues.ts';
import { WebhookPayloadError } from './errors.ts';

export { WebhookPayloadError };

// ───────────────────────────── signature ─────────────────────────────

const SIGNATURE = /^[0-9a-f]{40}$/i;

/**
 * True when `signatureHeader` is the HMAC-SHA1 (keyed with the secret's UTF-8 bytes) of
 * exactly `rawBody`, as 40 hex digits. Missing, malformed or wrong: false. Compared in
 * constant time so a forger learns nothing from response timing.
 */
export function verifyWebhookSignature(rawBody: Buffer, signatureHeader: string | undefined, secret: string): boolean {
  if (typeof signatureHeader !== 'string') return false;
  const given = signatureHeader.trim();
  if (!SIGNATURE.test(given) || secret === '') return false;
  const expected = createHmac('sha1', Buffer.from(secret, 'utf8')).update(rawBody).digest();
  return timingSafeEqual(Buffer.from(given, 'hex'), expected);
}

// ───────────────────────────── body ─────────────────────────────

const text = z.string().min(1);

const componentSchema = z.object({
  id: text,
  componentId: text,
  format: text,
  name: text,
  group: z.string().optional(),
  version: z.string().optional(),
});

const assetSchema = z.object({
  id: text,
  assetId: text,
  format: text,
  /** The asset's path (SQL store: with a leading `/`). */
  name: text,
});

/** The body Nexus posts (NEXUS.md "Webhooks"): null fields are omitted, never sent as null. */
export const webhookEventSchema = z
  .object({
    timestamp: text,
    nodeId: text,
    initiator: text,
    repositoryName: text,
    action: z.enum(['CREATED', 'UPDATED', 'DELETED', 'PURGED']),
    component: componentSchema.optional(),
    asset: assetSchema.optional(),
    /** PURGED (SQL store): the ids purged, with no single component or asset. */
    components: z.array(z.string()).optional(),
    assets: z.array(z.string()).optional(),
  })
  .superRefine((event, ctx) => {
    const single = (event.component ? 1 : 0) + (event.asset ? 1 : 0);
    if (single > 1) ctx.addIssue({ code: 'custom', path: ['asset'], message: 'not allowed together with component' });
    if (event.action === 'PURGED') {
      if (single === 0 && event.components === undefined && event.assets === undefined) {
        ctx.addIssue({ code: 'custom', path: ['components'], message: 'required (or assets) for a PURGED event' });
      }
    } else if (single === 0) {
      ctx.addIssue({ code: 'custom', path: ['component'], message: 'required (or asset)' });
    }
  });

export type WebhookEvent = z.output<typeof webhookEventSchema>;

export interface WebhookDelivery {
  /** `X-Nexus-Webhook-ID`: `rm:repository:component`, `rm:repository:asset`, … (undefined if absent). */
  webhookId: string | undefined;
  /**
   * `X-Nexus-Webhook-Delivery` (a UUID per request). When a proxy dropped the header, the
   * body's sha256 stands in: the body carries a millisecond timestamp, so it is as unique.
   */
  deliveryId: string;
  event: WebhookEvent;
}

export type HeaderBag = Record<string, string | string[] | undefined>;

/** Header lookup by case-insensitive name; the first value when a header is repeated. */
export function headerValue(headers: HeaderBag | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted) continue;
    return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/**
 * Parses a verified webhook body. Throws {@link WebhookPayloadError} naming the field
 * (`component.componentId: required`) for anything that is not a Nexus webhook body.
 */
export function parseWebhook(rawBody: Buffer, headers: HeaderBag | undefined): WebhookDelivery {
  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch (cause) {
    throw new WebhookPayloadError('(body)', 'not JSON', { cause });
  }
  const parsed = webhookEventSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue === undefined ? '(body)' : issuePath(issue, '(body)');
    throw new WebhookPayloadError(field, issue === undefined ? 'invalid' : issueMessage(issue), { cause: parsed.error });
  }
  return {
    webhookId: headerValue(headers, 'X-Nexus-Webhook-ID'),
    deliveryId: headerValue(headers, 'X-Nexus-Webhook-Delivery') || `sha256:${createHash('sha256').update(rawBody).digest('hex')}`,
    event: parsed.data,
  };
}
