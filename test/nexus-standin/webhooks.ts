/**
 * Repository webhooks as Nexus sends them: one POST per event from concurrent senders, no
 * ordering, no retry; a failure is only counted. Bodies are compact JSON with nulls omitted
 * and signed (HMAC-SHA1, lowercase hex) over the exact bytes when a secret is set.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { nexusDate } from './format.ts';
import type { Store, StoreEvent } from './store.ts';
import type { StandinWebhook } from './types.ts';

/** HMAC-SHA1 keyed with the secret's UTF-8 bytes over the body bytes, lowercase hex. */
export function signWebhookBody(secret: string, body: string | Buffer): string {
  return createHmac('sha1', Buffer.from(secret, 'utf8')).update(body).digest('hex');
}

const DELIVERY_TIMEOUT_MS = 10_000;

/** Five groups of 8 uppercase hex digits joined by '-', like a Nexus node id. */
function newNodeId(): string {
  const hex = randomBytes(20).toString('hex').toUpperCase();
  return [0, 8, 16, 24, 32].map((start) => hex.slice(start, start + 8)).join('-');
}

/** Drops null / undefined members so JSON.stringify omits them, keeping field order. */
function withoutNulls(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, member]) => member !== null && member !== undefined));
}

export class Webhooks {
  readonly nodeId = newNodeId();
  readonly #store: Store;
  readonly #hooks: StandinWebhook[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  failures = 0;
  deliveries = 0;

  constructor(store: Store) {
    this.#store = store;
  }

  add(hook: StandinWebhook): void {
    const repo = this.#store.repositories.get(hook.repository);
    if (repo === undefined) throw new Error(`webhook: unknown repository ${hook.repository}`);
    if (repo.type === 'group') throw new Error(`webhook: group repository ${hook.repository} cannot have a webhook`);
    if (hook.events.length === 0) throw new Error('webhook: at least one event (component, asset) is required');
    new URL(hook.url); // throws on a malformed URL, as the capability form would refuse it
    this.#hooks.push({ ...hook, events: [...hook.events] });
  }

  /** The exact body Nexus would send for a store event. */
  bodyFor(event: StoreEvent): string {
    const store = this.#store;
    const head = {
      timestamp: nexusDate(store.now()),
      nodeId: this.nodeId,
      initiator: `${event.actor.user}/${event.actor.ip}`,
      repositoryName: event.kind === 'component' ? event.component.repository : event.asset.repository,
      action: event.action,
    };
    if (event.kind === 'component') {
      const { component } = event;
      return JSON.stringify({
        ...head,
        component: withoutNulls({
          id: component.entityId,
          componentId: store.componentRestId(component),
          format: component.format,
          name: component.name,
          group: component.group,
          version: component.version,
        }),
      });
    }
    const { asset } = event;
    return JSON.stringify({
      ...head,
      asset: withoutNulls({
        id: asset.entityId,
        assetId: store.assetRestId(asset),
        format: store.repositories.get(asset.repository)?.format ?? 'raw',
        name: store.renderPath(asset.path),
      }),
    });
  }

  emit(event: StoreEvent): void {
    const repository = event.kind === 'component' ? event.component.repository : event.asset.repository;
    const hooks = this.#hooks.filter((hook) => hook.repository === repository && hook.events.includes(event.kind));
    if (hooks.length === 0) return;
    const body = Buffer.from(this.bodyFor(event), 'utf8');
    for (const hook of hooks) {
      const delivery = this.#deliver(hook, `rm:repository:${event.kind}`, body).catch(() => {
        this.failures++;
      });
      this.#inFlight.add(delivery);
      void delivery.finally(() => this.#inFlight.delete(delivery));
    }
  }

  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #deliver(hook: StandinWebhook, webhookId: string, body: Buffer): Promise<void> {
    this.deliveries++;
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/json; charset=UTF-8',
      'Content-Length': body.length,
      'X-Nexus-Webhook-ID': webhookId,
      'X-Nexus-Webhook-Delivery': randomUUID(),
    };
    if (hook.secret !== undefined && hook.secret !== '') {
      headers['X-Nexus-Webhook-Signature'] = signWebhookBody(hook.secret, body);
    }
    const url = new URL(hook.url);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<void>((resolve, reject) => {
      const req = send(url, { method: 'POST', headers, timeout: DELIVERY_TIMEOUT_MS, agent: false }, (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new Error(`webhook ${hook.url}: HTTP ${status}`));
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`webhook ${hook.url}: timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}
