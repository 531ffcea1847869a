/**
 * Split blobs (`ferry.bundle.v3`): a blob larger than the media travels as parts, each a
 * tar member `parts/sha256/<blob hex>/<offset>` of some bundle. A manifest lists, per split
 * blob, its parts from offset 0 up to the last one this bundle carries — earlier ones with
 * the bundle that carried them — so the importer can name any part it lacks, and the blob
 * is complete ("assembled") in the bundle carrying its last part. See docs/bundle-format.md.
 */
import * as z from 'zod';
import type { Digest } from '../digest.ts';
import { digestSchema as digest, sizeSchema as count } from './entries.ts';

export const partSchema = z.strictObject({
  blob: digest,
  /** The whole blob's size. */
  size: count,
  offset: count,
  length: count.min(1, 'must be at least 1'),
  /** sha256 of the part's bytes. */
  digest,
  /** The bundle of this chain carrying the part: this one, or an earlier one. */
  shippedIn: z.number().int('must be an integer').min(1, 'must be at least 1'),
});

export type BundlePart = z.output<typeof partSchema>;

export const PART_PREFIX = 'parts/sha256/';

/** `parts/sha256/<blob hex>/<offset>`: at most 94 characters, so it fits a ustar name. */
export function partMember(part: Pick<BundlePart, 'blob' | 'offset'>): string {
  return `${PART_PREFIX}${part.blob.slice(7)}/${part.offset}`;
}

export const PART_MEMBER_NAME = /^parts\/sha256\/([0-9a-f]{64})\/(0|[1-9][0-9]{0,15})$/;

/** Parts this bundle carries, in member order. */
export function carriedParts(parts: readonly BundlePart[] | undefined, sequence: number): BundlePart[] {
  return (parts ?? []).filter((p) => p.shippedIn === sequence);
}

/** Split blobs whose last part this bundle carries: they are complete here. */
export function assembledBlobs(parts: readonly BundlePart[] | undefined): { digest: Digest; size: number; parts: BundlePart[] }[] {
  const byBlob = new Map<Digest, BundlePart[]>();
  for (const part of parts ?? []) byBlob.set(part.blob, [...(byBlob.get(part.blob) ?? []), part]);
  return [...byBlob].flatMap(([blob, list]) => {
    const last = list.at(-1)!;
    return last.offset + last.length === last.size ? [{ digest: blob, size: last.size, parts: list }] : [];
  });
}

/** The part rules across fields; `field` paths as `blobs.parts[i].…`. */
export function partProblems(parts: readonly BundlePart[], sequence: number, included: ReadonlySet<Digest>, required: ReadonlySet<Digest>): string[] {
  const problems: string[] = [];
  const closed = new Set<Digest>();
  let previous: BundlePart | undefined;
  parts.forEach((part, i) => {
    const at = `blobs.parts[${i}]`;
    const continues = previous?.blob === part.blob;
    if (!continues && previous !== undefined) closed.add(previous.blob);
    if (closed.has(part.blob)) problems.push(`${at}.blob: the parts of one blob must be listed together`);
    const expectedOffset = continues ? previous!.offset + previous!.length : 0;
    if (part.offset !== expectedOffset) problems.push(`${at}.offset: must be ${expectedOffset} (parts are contiguous from 0)`);
    if (continues && part.size !== previous!.size) problems.push(`${at}.size: differs from the size the blob's earlier parts give`);
    if (part.offset + part.length > part.size) problems.push(`${at}.length: ends past the blob's size ${part.size}`);
    if (part.shippedIn > sequence) problems.push(`${at}.shippedIn: must not be later than this bundle (${sequence})`);
    if (continues && part.shippedIn < previous!.shippedIn) problems.push(`${at}.shippedIn: must not be earlier than the previous part's`);
    const lastOfBlob = parts[i + 1]?.blob !== part.blob;
    if (lastOfBlob && part.shippedIn !== sequence) problems.push(`${at}.shippedIn: a blob's parts are listed up to the last one this bundle carries`);
    if (included.has(part.blob) && !continues) problems.push(`${at}.blob: also listed in blobs.included`);
    if (lastOfBlob && part.offset + part.length === part.size && required.has(part.blob)) {
      problems.push(`${at}.blob: complete in this bundle but also listed in blobs.required`);
    }
    previous = part;
  });
  return problems;
}

/**
 * `length` bytes of `content` from `offset`, streamed, for a blob source that cannot seek
 * (no `openRange`): the bytes before `offset` are read and dropped; the source is closed once the part is out.
 */
export async function* sliceOf(content: AsyncIterable<Buffer> & { destroy?: () => void }, offset: number, length: number): AsyncGenerator<Buffer> {
  let position = 0;
  const end = offset + length;
  try {
    for await (const chunk of content) {
      const from = Math.max(offset - position, 0);
      const to = Math.min(end - position, chunk.byteLength);
      position += chunk.byteLength;
      if (to > from) yield chunk.subarray(from, to);
      if (position >= end) return;
    }
  } finally {
    content.destroy?.();
  }
}
