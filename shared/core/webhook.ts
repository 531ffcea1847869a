/**
 * Nexus repository webhooks (`rm:repository:component`, `rm:repository:asset`): verify the
 * HMAC-SHA1 signature over the exact body bytes, parse the body, and turn the event into
 * the same copy tasks a scan would produce. Webhooks are lossy and unordered (Nexus never
 * retries a failed delivery), so they only make things faster: the scheduled scan is what
 * guarantees nothing is lost, and the entry ledger plus content-derived task ids make a
 * webhook and a scan for the same change collapse into one task.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Log } from './log.ts';
import type { CopyTask, ExportState, SourceAsset, SourceComponent } from './ports.ts';
import { taskForAsset, type ScanRepository } from './scan.ts';

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

/** A webhook body that is not the JSON Nexus sends; `field` is the path of the first problem. */
export class WebhookPayloadError extends Error {
  override readonly name = 'WebhookPayloadError';
  readonly field: string;
  constructor(field: string, problem: string, options?: { cause?: unknown }) {
    super(`${field}: ${problem}`, options);
    this.field = field;
  }
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
    const field = issue === undefined || issue.path.length === 0 ? '(body)' : fieldPath(issue.path);
    throw new WebhookPayloadError(field, issue === undefined ? 'invalid' : describe(issue, json), { cause: parsed.error });
  }
  return {
    webhookId: headerValue(headers, 'X-Nexus-Webhook-ID'),
    deliveryId: headerValue(headers, 'X-Nexus-Webhook-Delivery') || `sha256:${createHash('sha256').update(rawBody).digest('hex')}`,
    event: parsed.data,
  };
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out === '' ? String(key) : `.${String(key)}`;
  return out;
}

/** `required` for a missing field, else zod's message without its `Invalid input: ` prefix. */
function describe(issue: z.core.$ZodIssue, input: unknown): string {
  if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) return 'required';
  return issue.message.replace(/^Invalid input: /, '');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

// ───────────────────────────── tasks ─────────────────────────────

/** What a webhook handler needs of the source Nexus (the NexusClient has both). */
export interface WebhookSource {
  getComponent(id: string): Promise<SourceComponent>;
  getAsset(id: string): Promise<SourceAsset & { repository: string }>;
}

export interface WebhookDeps {
  source: WebhookSource;
  state: ExportState;
  log?: Log;
}

/** A deletion Nexus reported. Logged for now; tombstones in bundles come later. */
export interface WebhookDeletion {
  repository: string;
  action: 'DELETED' | 'PURGED';
  kind: 'component' | 'asset';
  ids: string[];
  /** The component's coordinates or the asset's path, when the event named one. */
  name?: string | undefined;
}

export interface WebhookTasks {
  tasks: CopyTask[];
  /** Assets whose exact content is already staged or sealed: no task. */
  alreadyStaged: number;
  /** Why no task came out, when none did for a reason other than "already staged". */
  ignored?: 'repository not configured' | 'deleted' | 'gone from the source' | undefined;
  deletion?: WebhookDeletion | undefined;
}

/**
 * The copy tasks for a webhook event: a component event yields one task per asset of the
 * component as the source now lists it, an asset event one task for that asset. The
 * event's own fields are never trusted for content: the checksums come from the REST API.
 */
export async function tasksForWebhook(deps: WebhookDeps, event: WebhookEvent, repositories: readonly ScanRepository[]): Promise<WebhookTasks> {
  const repository = repositories.find((r) => r.name === event.repositoryName);
  if (repository === undefined) return { tasks: [], alreadyStaged: 0, ignored: 'repository not configured' };
  if (event.action === 'DELETED' || event.action === 'PURGED') {
    return { tasks: [], alreadyStaged: 0, ignored: 'deleted', deletion: deletionOf(event) };
  }

  let assets: SourceAsset[];
  try {
    if (event.component !== undefined) {
      assets = (await deps.source.getComponent(event.component.componentId)).assets;
    } else if (event.asset !== undefined) {
      const asset = await deps.source.getAsset(event.asset.assetId);
      // An id names its repository; a group could otherwise hand back a member's asset.
      assets = asset.repository === repository.name ? [asset] : [];
    } else {
      assets = [];
    }
  } catch (error) {
    // Deleted again before we asked (or not visible to us): nothing to copy; a later
    // DELETED event or the scan settles it.
    if ((error as { status?: unknown }).status === 404) {
      deps.log?.info(`webhook for ${event.repositoryName}: the ${event.component ? 'component' : 'asset'} is gone from the source`, {
        repository: event.repositoryName,
      });
      return { tasks: [], alreadyStaged: 0, ignored: 'gone from the source' };
    }
    throw error;
  }

  const tasks = new Map<string, CopyTask>();
  let alreadyStaged = 0;
  for (const asset of assets) {
    if (await deps.state.hasEntry(repository.name, asset.path, asset.checksums)) {
      alreadyStaged += 1;
      continue;
    }
    const task = taskForAsset(repository, asset);
    if (task !== undefined) tasks.set(task.id, task);
  }
  return { tasks: [...tasks.values()], alreadyStaged };
}

function deletionOf(event: WebhookEvent): WebhookDeletion {
  const action = event.action as 'DELETED' | 'PURGED';
  if (event.component !== undefined) {
    const { group, name, version } = event.component;
    return {
      repository: event.repositoryName,
      action,
      kind: 'component',
      ids: [event.component.componentId],
      name: [group, name, version].filter((part) => part !== undefined && part !== '').join(':'),
    };
  }
  if (event.asset !== undefined) {
    return { repository: event.repositoryName, action, kind: 'asset', ids: [event.asset.assetId], name: event.asset.name };
  }
  if (event.assets !== undefined) return { repository: event.repositoryName, action, kind: 'asset', ids: event.assets };
  return { repository: event.repositoryName, action, kind: 'component', ids: event.components ?? [] };
}
