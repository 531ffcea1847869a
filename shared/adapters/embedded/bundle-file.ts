/**
 * A bundle file on local disk or mounted media as the importer reads it: once whole, to
 * verify, then in ranges, to upload the blobs it did not copy. A file replaced or changed
 * since it was opened (another copy dropped over it, media swapped) is refused by name
 * before a range is read; an in-place edit that keeps size and time is still caught by the
 * digest check every upload streams through.
 */
import type { Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { BundleInput } from '../../core/import/importer.ts';
import { readFileStream } from '../../file-streams.ts';
import { BundleFileChangedError } from './errors.ts';

const sameFile = (a: Stats, b: Stats) => a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;

export function bundleFileInput(file: string): BundleInput {
  let verified: Stats | undefined;
  return {
    name: path.basename(file),
    open: async () => {
      const handle = await open(file, 'r');
      verified = await handle.stat();
      return readFileStream(file, { fd: handle });
    },
    openRange: async (offset, length) => {
      const now = await stat(file);
      if (verified === undefined || !sameFile(verified, now)) throw new BundleFileChangedError(file);
      if (length === 0) return Readable.from([]);
      return readFileStream(file, { start: offset, end: offset + length - 1 });
    },
  };
}
