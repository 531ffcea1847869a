/**
 * File streams with 128 KiB chunks. Node's defaults (64 KiB reads, 16 KiB of write buffering)
 * cost a system call per 64 KiB, and on the virtual machines Ferry runs on those calls
 * dominate: `npm run bench` export and import throughput rose by a third to a half with
 * 128 KiB. Larger chunks were faster still but raised peak RSS past the 150 MB goal (256 KiB:
 * +20 MB, 1 MiB: +50 MB), as dead chunk buffers wait longer to be handed back. Writes also
 * batch queued chunks into one `writev`.
 */
import { createReadStream, createWriteStream, type ReadStream, type WriteStream } from 'node:fs';

export const FILE_CHUNK_BYTES = 128 * 1024;

type ReadOptions = Exclude<Parameters<typeof createReadStream>[1], string | undefined>;
type WriteOptions = Exclude<Parameters<typeof createWriteStream>[1], string | undefined>;

export function readFileStream(file: string, options: ReadOptions = {}): ReadStream {
  return createReadStream(file, { highWaterMark: FILE_CHUNK_BYTES, ...options });
}

export function writeFileStream(file: string, options: WriteOptions = {}): WriteStream {
  return createWriteStream(file, { highWaterMark: FILE_CHUNK_BYTES, ...options });
}
