/** When copy starts a seal ahead of the schedule. */
import type { Log } from '../log.ts';
import type { EarlySeal } from '../ports/early-seal.ts';

export interface EarlySealPorts {
  state: { listPendingEntries(): Promise<readonly { size: number }[]> };
  earlySeal: EarlySeal;
  log: Log;
}

/**
 * Starts an early seal when the pending entries hold at least `thresholdBytes`. Never
 * throws: the work that called it has succeeded, and the schedule seals later anyway.
 */
export async function sealIfDue(ports: EarlySealPorts, thresholdBytes: number): Promise<'started' | 'not due' | 'failed'> {
  const { state, earlySeal, log } = ports;
  try {
    const pendingBytes = (await state.listPendingEntries()).reduce((n, e) => n + e.size, 0);
    if (pendingBytes < thresholdBytes) return 'not due';
    await earlySeal.start({ pendingBytes });
    log.info('pending bytes passed the threshold: seal started', { pendingBytes, threshold: thresholdBytes, seal: earlySeal.target });
    return 'started';
  } catch (error) {
    const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) };
    log.warn('could not start an early seal; the schedule will seal', { seal: earlySeal.target, error: { name, message } });
    return 'failed';
  }
}
