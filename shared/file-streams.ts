/**
 * File write streams sized for the machines Ferry runs on (Lambda, CI runners: virtual
 * machines where each system call is dear). They buffer up to 128 KiB and flush queued chunks
 * in one `writev`, instead of Node's 16 KiB and a call per chunk: `npm run bench` export and
 * import throughput rose by about a third. Reads keep Node's `createReadStream` (64 KiB):
 * 128 KiB reads and up were a little faster still but raised peak RSS past the 150 MB goal
 * (128 KiB: +10 MB, 1 MiB: +50 MB), as dead chunk buffers wait longer to be handed back.
 */
import { createWriteStream, type WriteStream } from 'node:fs';

export const WRITE_BUFFER_BYTES = 128 * 1024;

type WriteOptions = Exclude<Parameters<typeof createWriteStream>[1], string | undefined>;

export function writeFileStream(file: string, options: WriteOptions = {}): WriteStream {
  return createWriteStream(file, { highWaterMark: WRITE_BUFFER_BYTES, ...options });
}
