/**
 * File write streams sized for the machines Ferry runs on (Lambda, CI runners: virtual
 * machines where each system call is dear). They buffer up to 64 KiB and flush queued chunks
 * in one `writev`, instead of Node's 16 KiB and a call per chunk: in `npm run bench` export
 * throughput went from 0.39–0.52× skopeo's to 0.84–0.86×. 128 KiB write buffers were no
 * faster, and reads above `createReadStream`'s 64 KiB only somewhat faster, but both raised
 * peak RSS to the 150 MB goal or past it (128 KiB writes: +5–10 MB; 1 MiB reads: +50 MB), as
 * dead chunk buffers wait longer to be handed back.
 */
import { createReadStream, createWriteStream, type ReadStream, type WriteStream } from 'node:fs';

export const WRITE_BUFFER_BYTES = 64 * 1024;
/** Bytes per read of a blob or bundle file: Node's default, measured again with 1 MiB reads (slower, +35–50 MB RSS). */
export const READ_CHUNK_BYTES = 64 * 1024;

type ReadOptions = Exclude<Parameters<typeof createReadStream>[1], string | undefined>;

export function readFileStream(file: string, options: ReadOptions = {}): ReadStream {
  return createReadStream(file, { highWaterMark: READ_CHUNK_BYTES, ...options });
}

type WriteOptions = Exclude<Parameters<typeof createWriteStream>[1], string | undefined>;

export function writeFileStream(file: string, options: WriteOptions = {}): WriteStream {
  return createWriteStream(file, { highWaterMark: WRITE_BUFFER_BYTES, ...options });
}
