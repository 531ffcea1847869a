import type { EventEmitter } from 'node:events';

/** A writable to wait on: Node's streams and tar-stream's streamx ones alike. */
export type Drainable = EventEmitter & { destroyed: boolean };

/** Resolves on 'drain'; rejects if the stream errors, or closes first (`closed` says what closed). */
export function drained(stream: Drainable, closed: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.destroyed) {
      reject(new Error(closed));
      return;
    }
    const cleanup = () => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      stream.off('error', onError);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onClose = () => {
      cleanup();
      reject(new Error(closed));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    stream.on('drain', onDrain);
    stream.on('close', onClose);
    stream.on('error', onError);
  });
}
