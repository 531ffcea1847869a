/**
 * One page of read-ahead for the scan: the next page of a listing is requested as soon as
 * the current one arrives, so its round trip overlaps the recording of the current page
 * (ledger lookups, the enqueue, the checkpoint) instead of following it. At most one page
 * is read ahead, so a scan holds two pages at most, however large the repository.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Yields what `source` yields, in order, with the next item's read already in flight while
 * the consumer works on the current one — when `readsAhead()` says so as the current item
 * arrives (a scan about to pause does not read a page it will not use). An error reading
 * ahead surfaces only when the consumer asks for that item, after it finished with the
 * items before. A consumer that stops early drops the read in flight; the source is closed
 * once that read settles.
 */
export async function* readAhead<T>(source: AsyncIterable<T>, readsAhead: () => boolean = () => true): AsyncGenerator<T, void, undefined> {
  const iterator = source[Symbol.asyncIterator]();
  let ahead: Promise<IteratorResult<T>> | undefined;
  try {
    for (;;) {
      const reading: Promise<IteratorResult<T>> = ahead ?? iterator.next();
      ahead = undefined;
      const current = await reading;
      if (current.done === true) return;
      if (readsAhead()) {
        ahead = iterator.next();
        // Handled here so a failure while the consumer is busy is not reported as unhandled;
        // the same rejection is thrown where the consumer awaits it.
        ahead.catch(() => undefined);
        // One turn of the event loop, so the request leaves before the consumer's work: an
        // HTTP client may wait for one before it reuses a kept-alive connection (undici does).
        await nextTurn();
      }
      yield current.value;
    }
  } finally {
    if (ahead === undefined) await iterator.return?.();
    else {
      // Stopped early (paused, or the consumer failed): nobody will take the item in flight.
      void ahead.then(
        () => iterator.return?.(),
        () => undefined,
      ).catch(() => undefined);
    }
  }
}
