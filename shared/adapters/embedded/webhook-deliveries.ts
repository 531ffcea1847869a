/**
 * The webhook deliveries `ferry serve` has answered, by `X-Nexus-Webhook-Delivery` id, in the
 * embedded state file: a duplicate (a proxy's retry, a replay) is answered from here after a
 * restart too, without asking Nexus again. The copy tasks themselves are idempotent in the
 * queue, so a delivery whose record was lost (killed between enqueue and record) only
 * queues nothing new the second time.
 */
import type { DatabaseSync } from 'node:sqlite';
import { SqliteComponent, text } from './database.ts';

const MIGRATIONS = [
  `
  CREATE TABLE webhook_deliveries (
    delivery_id  TEXT PRIMARY KEY,
    received_at  TEXT NOT NULL,
    outcome_json TEXT NOT NULL
  );
  CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);
  `,
];

/** Nexus sends a new id per request and never retries: a week is ample to recognise a replay. */
const KEEP_MS = 7 * 24 * 3600 * 1000;

export interface RecordedDelivery {
  receivedAt: string;
  /** What the delivery came to (tasks queued, ignored because, …), as first answered. */
  outcome: Record<string, unknown>;
}

export class SqliteWebhookDeliveries extends SqliteComponent {
  /** `db`: an open database (shared with the export state and queue) or a file path to open. */
  constructor(db: DatabaseSync | string) {
    super(db, 'webhook-deliveries', MIGRATIONS);
    this.forgetBefore(new Date(Date.now() - KEEP_MS));
  }

  /** The delivery as recorded, or undefined when this id was never answered. */
  find(deliveryId: string): RecordedDelivery | undefined {
    const row = this.prepared('SELECT received_at, outcome_json FROM webhook_deliveries WHERE delivery_id = ?').get(deliveryId);
    if (row === undefined) return undefined;
    return { receivedAt: text(row, 'received_at'), outcome: JSON.parse(text(row, 'outcome_json')) as Record<string, unknown> };
  }

  /** Records a delivery once its tasks are queued; false when the id was recorded already (a concurrent duplicate). */
  record(deliveryId: string, outcome: Record<string, unknown>, receivedAt = new Date()): boolean {
    const result = this
      .prepared('INSERT INTO webhook_deliveries (delivery_id, received_at, outcome_json) VALUES (?, ?, ?) ON CONFLICT (delivery_id) DO NOTHING')
      .run(deliveryId, receivedAt.toISOString(), JSON.stringify(outcome));
    return Number(result.changes) === 1;
  }

  /** Drops records older than `instant`; returns how many. */
  forgetBefore(instant: Date): number {
    return Number(this.prepared('DELETE FROM webhook_deliveries WHERE received_at < ?').run(instant.toISOString()).changes);
  }
}
