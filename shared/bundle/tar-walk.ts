/**
 * Walking a bundle tar: tar-stream's extractor fed with backpressure, every member name and
 * type checked before a reader sees it, and the tar's framing followed independently so an
 * archive that ends without its end-of-archive marker, or hides bytes after it, is refused.
 */
import type { Readable } from 'node:stream';
import tar, { type Extract } from 'tar-stream';
import { drained, type Drainable } from './drain.ts';
import { BundleError, MalformedTarError, NonRegularMemberError, TarEndError, UnsafeMemberPathError } from './errors.ts';

/** One member of the tar, as tar-stream hands it out: a readable of its data. */
export type Entry = Extract extends AsyncIterable<infer S> ? S : never;

/** `offset`: where the member's data starts in the tar, so a reader can come back for it by range. */
export type Visit = (name: string, size: number, entry: Entry, offset: number) => Promise<void>;

/**
 * Feeds `input` through tar-stream's extractor with backpressure and hands each safe,
 * regular member to `visit`, which must consume it. Returns the bytes read. The extractor
 * accepts a tar that stops at a member boundary and skips what follows a zero block, so
 * {@link TarFraming} checks the tar's end on the same bytes before they reach it.
 */
export async function walkTar(input: Readable, where: string, visit: Visit): Promise<number> {
  const extract = tar.extract();
  let bytes = 0;
  let inputError: Error | undefined;
  let tarError: Error | undefined;
  extract.on('error', (error: Error) => {
    tarError ??= error;
  });

  const framing = new TarFraming(where);
  const feeding = (async () => {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      bytes += chunk.byteLength;
      if (extract.destroyed || extract.destroying) return;
      framing.feed(chunk);
      if (!extract.write(chunk)) await drained(extract as unknown as Drainable, 'tar extractor closed');
    }
    framing.end();
    extract.end(undefined);
  })().catch((error: unknown) => {
    if (tarError === undefined) inputError ??= error as Error;
    extract.destroy(error as Error);
  });

  const entries = extract[Symbol.asyncIterator]();
  try {
    for (;;) {
      const step = await entries.next();
      if (step.done) break;
      const entry = step.value;
      const { name, type, size } = entry.header;
      checkMemberName(where, name);
      if (type !== 'file') throw new NonRegularMemberError(where, name, describeType(type));
      // The framing has read this member's header already: it sees every byte first.
      const framed = framing.nextDataOffset();
      if (framed === undefined || framed.size !== (size ?? 0)) {
        throw new MalformedTarError(where, `member ${name}: its header is not where, or not the size, the tar's framing reads`);
      }
      await visit(name, size ?? 0, entry, framed.offset);
    }
  } catch (error) {
    const failure =
      error instanceof BundleError
        ? error
        : inputError !== undefined
          ? inputError
          : tarError !== undefined
            ? new MalformedTarError(where, tarError.message, { cause: tarError })
            : error;
    extract.destroy();
    input.destroy();
    await feeding;
    throw failure;
  }
  await feeding;
  if (inputError !== undefined) throw inputError;
  return bytes;
}

const BLOCK = 512;
const END_MARKER = 2 * BLOCK;
/** Extended headers are held to read their `size` record; a bundle has none, so this is generous. */
const MAX_EXTENDED_HEADER = 1024 * 1024;

/** A pax header's data being collected: `x` for the next member, `g` for all that follow. */
interface ExtendedHeader {
  type: 'x' | 'g';
  chunks: Buffer[];
  left: number;
}

/**
 * Follows a tar's block framing (512-byte headers, data padded to 512; pax and GNU extension
 * headers framed the same way, a pax `size` record overriding the next member's size as
 * tar-stream applies it) in constant memory, and refuses an end that is not the
 * end-of-archive marker: two zero blocks after the last member, then only zero bytes.
 * Anything after the first zero block is refused, as readers disagree on whether it counts.
 */
class TarFraming {
  readonly #where: string;
  readonly #block = Buffer.alloc(BLOCK);
  #offset = 0;
  #filled = 0;
  /** Data and padding of the current member still to pass. */
  #skip = 0;
  /** Where the first zero header block starts, once seen: from there on only zeros. */
  #zeroAt: number | undefined;
  #extended: ExtendedHeader | undefined;
  #globalSize: string | undefined;
  /** The `size` record for the next member, when a pax header announced one. */
  #paxSize: string | undefined;
  /** Where the data of members whose headers were read starts, oldest first, until the walk takes them. */
  readonly #dataOffsets: { offset: number; size: number }[] = [];

  constructor(where: string) {
    this.#where = where;
  }

  feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#zeroAt !== undefined) {
        for (let index = at; index < chunk.length; index += 1) {
          if (chunk[index] !== 0) this.#refuseAfterZeros(this.#offset + index - at);
        }
        this.#offset += chunk.length - at;
        return;
      }
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - at);
        this.#collect(chunk.subarray(at, at + n));
        this.#skip -= n;
        this.#offset += n;
        at += n;
        if (this.#skip === 0 && this.#extended !== undefined) this.#endExtended();
        continue;
      }
      const n = Math.min(BLOCK - this.#filled, chunk.length - at);
      chunk.copy(this.#block, this.#filled, at, at + n);
      this.#filled += n;
      this.#offset += n;
      at += n;
      if (this.#filled === BLOCK) {
        this.#filled = 0;
        this.#header(this.#offset - BLOCK);
      }
    }
  }

  /** The data offset of the oldest member header not yet handed out (one per member tar-stream yields). */
  nextDataOffset(): { offset: number; size: number } | undefined {
    return this.#dataOffsets.shift();
  }

  /** Called at the end of the input. */
  end(): void {
    const at = this.#offset;
    if (this.#zeroAt === undefined) {
      const inside = this.#skip > 0 ? ' inside a member' : this.#filled > 0 ? ' inside a header block' : '';
      throw new TarEndError(this.#where, at, `truncated: ends at byte ${at}${inside} without the end-of-archive marker`);
    }
    if (at - this.#zeroAt < END_MARKER) {
      throw new TarEndError(this.#where, at, `truncated: ends at byte ${at} after a single zero block; the end-of-archive marker is two`);
    }
    if (at % BLOCK !== 0) throw new TarEndError(this.#where, at, `ends at byte ${at}, inside a 512-byte block`);
  }

  #refuseAfterZeros(at: number): never {
    const zeroAt = this.#zeroAt as number;
    const detail =
      at < zeroAt + END_MARKER
        ? `data at byte ${at} after a lone zero block at byte ${zeroAt}`
        : `non-zero bytes at byte ${at} after the end-of-archive marker at byte ${zeroAt}`;
    throw new TarEndError(this.#where, at, detail);
  }

  #header(at: number): void {
    const block = this.#block;
    if (block.every((byte) => byte === 0)) {
      this.#zeroAt = at;
      return;
    }
    const type = String.fromCharCode(block[156] as number);
    let size = headerSize(block);
    if (size === undefined) throw new MalformedTarError(this.#where, `the header at byte ${at} has an invalid size field`);
    if (type === 'x' || type === 'g') {
      if (size > MAX_EXTENDED_HEADER) {
        throw new MalformedTarError(this.#where, `the extended header at byte ${at} is ${size} bytes, more than ${MAX_EXTENDED_HEADER}`);
      }
      this.#extended = { type, chunks: [], left: size };
    } else if (type !== 'L' && type !== 'K') {
      const paxSize = this.#paxSize;
      this.#paxSize = undefined;
      if (paxSize !== undefined && paxSize !== '') {
        if (!/^\d+$/.test(paxSize) || !Number.isSafeInteger(Number(paxSize))) {
          throw new MalformedTarError(this.#where, `the pax size record before the header at byte ${at} is invalid`);
        }
        size = Number(paxSize);
      }
      this.#dataOffsets.push({ offset: at + BLOCK, size });
    }
    this.#skip = Math.ceil(size / BLOCK) * BLOCK;
    if (this.#skip === 0 && this.#extended !== undefined) this.#endExtended();
  }

  #collect(data: Buffer): void {
    const extended = this.#extended;
    if (extended === undefined || extended.left === 0) return;
    const kept = data.subarray(0, extended.left);
    extended.chunks.push(Buffer.from(kept));
    extended.left -= kept.length;
  }

  #endExtended(): void {
    const { type, chunks } = this.#extended as ExtendedHeader;
    this.#extended = undefined;
    const size = paxRecords(Buffer.concat(chunks)).get('size');
    if (type === 'g') this.#globalSize = size;
    else this.#paxSize = size ?? this.#globalSize;
  }
}

/** The header's size field: octal, or base-256 when the high bit of its first byte is set. */
function headerSize(block: Buffer): number | undefined {
  const field = block.subarray(124, 136);
  if (((field[0] as number) & 0x80) !== 0) {
    if (field[0] !== 0x80) return undefined; // 0xff: negative
    let size = 0;
    for (const byte of field.subarray(1)) size = size * 256 + byte;
    return Number.isSafeInteger(size) ? size : undefined;
  }
  const text = field.toString('latin1').replace(/^[ \0]+/, '');
  const digits = /^[0-7]*/.exec(text)?.[0] ?? '';
  if (!/^[ \0]*$/.test(text.slice(digits.length))) return undefined;
  return digits === '' ? 0 : parseInt(digits, 8);
}

/** Pax extended header records (`<length> <key>=<value>\n`), read the way tar-stream reads them. */
function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let rest = data;
  while (rest.length > 0) {
    const space = rest.indexOf(0x20);
    const length = parseInt(rest.subarray(0, space === -1 ? rest.length : space).toString('latin1'), 10);
    if (!(length > 0)) break;
    const record = rest.subarray(space + 1, length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (equals === -1) break;
    records.set(record.slice(0, equals), record.slice(equals + 1));
    rest = rest.subarray(length);
  }
  return records;
}

function checkMemberName(where: string, name: string): void {
  if (name === '') throw new UnsafeMemberPathError(where, '(empty)', 'has an empty name');
  if (name.startsWith('/')) throw new UnsafeMemberPathError(where, name, 'is an absolute path');
  if (name.includes('\\')) throw new UnsafeMemberPathError(where, name, 'contains a backslash');
  if (name.includes('\0')) throw new UnsafeMemberPathError(where, name, 'contains NUL');
  if (name.split('/').includes('..')) throw new UnsafeMemberPathError(where, name, "contains a '..' segment");
}

function describeType(type: string | null | undefined): string {
  switch (type) {
    case 'link':
      return 'hard link';
    case 'symlink':
      return 'symbolic link';
    case undefined:
    case null:
      return 'member of unknown type';
    default:
      return type.replace(/-/g, ' ');
  }
}
