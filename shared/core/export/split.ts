/**
 * Blobs bigger than the media: an entry whose new blobs do not fit one bundle has them
 * split into parts that fill bundles up to the cap (the rest of the open bundle first, then
 * whole bundles). A split blob is shipped in the bundle carrying its last part; the entry
 * goes into the last bundle of the run and requires what completed earlier. See
 * docs/bundle-format.md (`blobs.parts`).
 */
import { createHash } from 'node:crypto';
import type { BundlePart } from '../../bundle/index.ts';
import type { Digest } from '../../digest.ts';
import type { ObjectStore, PendingEntry } from '../ports/index.ts';

/** A part as the plan places it; its digest is computed from the staged blob at seal time. */
export type PlannedPart = Omit<BundlePart, 'digest'>;

export interface PlannedBundle {
  entries: PendingEntry[];
  included: { digest: Digest; size: number }[];
  required: Map<Digest, { size: number; shippedIn: number }>;
  /** Parts this bundle carries, in member order. */
  parts: PlannedPart[];
  bytes: number;
}

/** Tar overhead: a 512-byte header per member plus padding, the small members, the end blocks. */
export const TAR_FIXED_OVERHEAD = 16 * 1024;
export const MANIFEST_BYTES_PER_ENTRY = 700;
/** One `blobs.parts` item as serialised (two digests, four numbers, indentation), rounded up. */
const MANIFEST_BYTES_PER_PART = 400;
export const tarMemberBytes = (size: number) => 512 + Math.ceil(size / 512) * 512;

/** The plan so far: the bundles closed, the open one, and where each blob ships. */
export interface PlanCursor {
  bundles: PlannedBundle[];
  current: PlannedBundle | undefined;
  firstSequence: number;
  maxBytes: number;
  plannedIn: Map<Digest, number>;
  /**
   * Split blobs an earlier seal left unfinished: their parts already published (a seal
   * stopped between the bundles of one split). Their split goes on from there.
   */
  continued: ReadonlyMap<Digest, readonly BundlePart[]>;
  /** The continued parts this plan lists before its own. */
  earlier: BundlePart[];
}

export const openBundle = (): PlannedBundle => ({ entries: [], included: [], required: new Map(), parts: [], bytes: TAR_FIXED_OVERHEAD });

function nextBundle(cursor: PlanCursor, reserve: number): PlannedBundle {
  if (cursor.current !== undefined) cursor.bundles.push(cursor.current);
  cursor.current = openBundle();
  cursor.current.bytes += reserve;
  return cursor.current;
}

const sequenceOf = (cursor: PlanCursor) => cursor.firstSequence + cursor.bundles.length;

/**
 * Places an entry whose new blobs exceed one bundle (or, with no entry, a blob the far side
 * asked for again). Returns false (and changes nothing) when the cap leaves no useful room
 * for data once the manifest's share is reserved.
 */
export function placeSplitEntry(cursor: PlanCursor, entry: PendingEntry | undefined, needs: Map<Digest, { size: number; shipped: number | undefined }>): boolean {
  const { maxBytes } = cursor;
  const fresh = [...needs].filter(([, b]) => b.shipped === undefined);
  // A resend starts its blob over (the far side lost it); an entry's blob goes on where a stopped seal left it.
  const earlier = new Map(fresh.map(([digest, blob]) => [digest, entry === undefined ? [] : continuedParts(cursor, digest, blob.size)]));
  const earlierParts = [...earlier.values()].flat();
  const newBytes = fresh.reduce((n, [digest, b]) => n + b.size - bytesIn(earlier.get(digest)!), 0);
  // Every bundle of the run reserves room for the entry and all part listings: the last one lists every part.
  const parts = Math.ceil(newBytes / (maxBytes / 2)) + fresh.length + 1 + earlierParts.length;
  const reserve = MANIFEST_BYTES_PER_ENTRY * (1 + Math.floor(needs.size / 8)) + MANIFEST_BYTES_PER_PART * parts;
  const capacity = maxBytes - TAR_FIXED_OVERHEAD - reserve;
  if (capacity < maxBytes / 2 || capacity < 4096) return false;

  let current = cursor.current !== undefined && cursor.current.bytes + reserve + 2048 <= maxBytes ? cursor.current : undefined;
  if (current === undefined) current = nextBundle(cursor, reserve);
  else current.bytes += reserve;
  for (const [digest, blob] of fresh) {
    const cost = tarMemberBytes(blob.size);
    let offset = bytesIn(earlier.get(digest)!);
    if (cost <= capacity && offset === 0) {
      if (current.bytes + cost > maxBytes) current = nextBundle(cursor, reserve);
      current.included.push({ digest, size: blob.size });
      current.bytes += cost;
      cursor.plannedIn.set(digest, sequenceOf(cursor));
      continue;
    }
    cursor.earlier.push(...earlier.get(digest)!);
    while (offset < blob.size) {
      const room = maxBytes - current.bytes - 512;
      if (room < 1024) {
        current = nextBundle(cursor, reserve);
        continue;
      }
      const length = Math.min(blob.size - offset, Math.floor(room / 512) * 512);
      current.parts.push({ blob: digest, size: blob.size, offset, length, shippedIn: sequenceOf(cursor) });
      current.bytes += tarMemberBytes(length);
      offset += length;
      if (offset < blob.size) current = nextBundle(cursor, reserve);
    }
    cursor.plannedIn.set(digest, sequenceOf(cursor));
  }
  if (entry === undefined) return true;
  const sequence = sequenceOf(cursor);
  for (const [digest, blob] of needs) {
    const shipped = blob.shipped ?? cursor.plannedIn.get(digest);
    if (shipped !== undefined && shipped !== sequence) current.required.set(digest, { size: blob.size, shippedIn: shipped });
  }
  current.entries.push(entry);
  return true;
}

/** The parts of `blob` an earlier seal published, when they are a usable start of it (contiguous from 0, this size). */
function continuedParts(cursor: PlanCursor, blob: Digest, size: number): readonly BundlePart[] {
  const parts = cursor.continued.get(blob) ?? [];
  let next = 0;
  for (const part of parts) {
    if (part.size !== size || part.offset !== next || part.shippedIn >= cursor.firstSequence) return [];
    next += part.length;
  }
  return next < size ? parts : [];
}

const bytesIn = (parts: readonly { length: number }[]) => parts.reduce((n, p) => n + p.length, 0);

/**
 * What each bundle's manifest lists in `blobs.parts`: for every blob it carries a part of,
 * that blob's parts from offset 0 up to its own last one (earlier ones with their bundle,
 * `earlier` those of bundles sealed before this plan).
 */
export function manifestParts(bundle: PlannedBundle, sequence: number, all: readonly PlannedBundle[], earlier: readonly PlannedPart[] = []): PlannedPart[] {
  const blobs = [...new Set(bundle.parts.map((p) => p.blob))];
  const everyPart = [...earlier, ...all.flatMap((b) => b.parts)];
  return blobs.flatMap((blob) => everyPart.filter((p) => p.blob === blob && p.shippedIn <= sequence));
}

/** The sha256 of each part, in one streaming pass over the staged blob. */
export async function partDigests(store: ObjectStore, blob: Digest, parts: readonly PlannedPart[]): Promise<Map<number, Digest>> {
  const ordered = [...parts].sort((a, b) => a.offset - b.offset);
  const digests = new Map<number, Digest>();
  const source = await store.getBlob(blob);
  const content = await source.open();
  let position = 0;
  let index = 0;
  let hash = createHash('sha256');
  const close = () => {
    digests.set(ordered[index]!.offset, `sha256:${hash.digest('hex')}` as Digest);
    index += 1;
    hash = createHash('sha256');
  };
  try {
    for await (const chunk of content as AsyncIterable<Buffer>) {
      let at = 0;
      while (at < chunk.byteLength && index < ordered.length) {
        const part = ordered[index]!;
        // Bytes before the part (a split continued from an earlier seal) hash into nothing.
        if (position < part.offset) {
          const skip = Math.min(chunk.byteLength - at, part.offset - position);
          at += skip;
          position += skip;
          continue;
        }
        const take = Math.min(chunk.byteLength - at, part.offset + part.length - position);
        hash.update(chunk.subarray(at, at + take));
        at += take;
        position += take;
        if (position === part.offset + part.length) close();
      }
      if (index === ordered.length) break;
    }
  } finally {
    content.destroy();
  }
  return digests;
}
