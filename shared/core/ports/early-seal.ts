/**
 * An early seal: copy starts a seal ahead of the schedule once enough bytes are pending, so
 * a burst of uploads becomes a bundle without waiting for the next scheduled seal. Deployed,
 * it invokes the seal function asynchronously (`shared/adapters/aws/lambda-early-seal.ts`).
 * When: `sealIfDue` (core/export/early-seal.ts).
 */

export interface EarlySeal {
  /** What is started, for messages (the seal function's name). */
  readonly target: string;
  /** Starts a seal and returns without waiting for it: its outcome is the seal's own. */
  start(trigger: { pendingBytes: number }): Promise<void>;
}
