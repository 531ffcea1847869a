/**
 * Byte counters for the progress bars: streams are counted as they pass, in the CLI, so the
 * core needs no progress hooks of its own for them.
 */
import { stat } from 'node:fs/promises';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { DirObjectStore } from '../shared/adapters/embedded/index.ts';
import type { BundleInput } from '../shared/core/import/importer.ts';
import { carriesVerifierOf, type Digest } from '../shared/digest.ts';
import type { Output, Progress } from './output.ts';

/**
 * `stream` as it is, counted chunk by chunk. An error on either side ends both (the
 * consumer sees the source's error; a consumer that stops early closes the source).
 */
export function counted(stream: Readable, onBytes: (bytes: number) => void): Readable {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      onBytes(chunk.length);
      callback(null, chunk);
    },
  });
  // The counter hands on every byte and the source's error: a verifier behind it still vouches.
  return carriesVerifierOf(pipeline(stream, counter, () => undefined), stream);
}

/** The embedded store, counting the bytes streamed into it: what copy fetched from the source, new or not. */
export class MeteredObjectStore extends DirObjectStore {
  /** Told of each chunk while set (the copy bar sets it). */
  onBytes: ((bytes: number) => void) | undefined;

  override putBlob(content: Readable, options?: { expectedDigest?: Digest; expectedSize?: number }): ReturnType<DirObjectStore['putBlob']> {
    const onBytes = this.onBytes;
    return super.putBlob(onBytes === undefined ? content : counted(content, onBytes), options);
  }
}

/**
 * A bundle file whose one pass from byte 0 (verification reads it end to end) draws a
 * `verifying <name>` bar in bytes of the file. Ranged reads (uploads) are not counted here.
 */
export function verifiedWithProgress(input: BundleInput, file: string, out: Output): BundleInput {
  return {
    ...input,
    open: async () => {
      const size = (await stat(file)).size;
      const stream = await input.open();
      const bar: Progress = out.progress(`verifying ${input.name}`, size, { bytes: true });
      let done = 0;
      const reading = counted(stream, (bytes) => bar.update((done += bytes)));
      reading.once('close', () => bar.stop());
      return reading;
    },
  };
}
