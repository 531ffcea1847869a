/**
 * Each byte hashed and written as few times as the design allows (issue 10): a download
 * that streams through a verifier is not hashed again by the store, even counted for a
 * progress bar on the way; and durable files flush to disk while they are written, not all
 * at the end, yet still end fsynced, complete, or not at all.
 */
import { mkdtemp, open, readdir, readFile, readlink, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { counted, MeteredObjectStore } from '../cli/metered.ts';
import { importConfigSchema } from '../shared/config/import-config.ts';
import { blobVerifier } from '../shared/core/ports/object-store-rules.ts';
import { HashingStream, sha256Of } from '../shared/digest.ts';
import { DurableFileStream, FLUSH_EVERY_BYTES, READ_CHUNK_BYTES, readFileStream } from '../shared/file-streams.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-write-once-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const content = Buffer.alloc(300_000, 7);
const digest = sha256Of(content);

function verifying(bytes: Buffer, expected = digest): HashingStream {
  const hashing = new HashingStream({ what: 'download', expected: { sha256: expected.slice(7) }, expectedSize: bytes.length });
  Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]).pipe(hashing);
  return hashing;
}

describe('a verified download counted for the progress bar', () => {
  it('is trusted by the store instead of hashed a second time', () => {
    // Prepare: a download through a verifier of the digest, then a progress counter
    const download = counted(verifying(content), () => undefined);

    // Act
    const verifier = blobVerifier(download, { expectedDigest: digest, expectedSize: content.length });

    // Assess: the store's verifier counts; it does not hash again
    expect(verifier).not.toBeInstanceOf(HashingStream);
  });

  it('is hashed by the store when the verifier upstream checks another digest', () => {
    const download = counted(verifying(content), () => undefined);
    const other = sha256Of(Buffer.from('other'));

    const verifier = blobVerifier(download, { expectedDigest: other });

    expect(verifier).toBeInstanceOf(HashingStream);
  });

  it('still fails the store write, counted, when the bytes do not match', async () => {
    // Prepare: bytes that are not the announced digest, counted on their way in
    const store = new MeteredObjectStore(path.join(dir, 'store'));
    let bytes = 0;
    store.onBytes = (n) => (bytes += n);
    const wrong = Buffer.alloc(content.length, 8);

    // Act
    const put = store.putBlob(verifying(wrong), { expectedDigest: digest, expectedSize: content.length });

    // Assess: refused, nothing committed under the digest, and the bytes were counted
    await expect(put).rejects.toThrow(/sha256/);
    expect(await store.statBlob(digest)).toBeUndefined();
    expect(bytes).toBe(content.length);
  });

  it('is stored once, counted, when the bytes match', async () => {
    const store = new MeteredObjectStore(path.join(dir, 'store'));
    let bytes = 0;
    store.onBytes = (n) => (bytes += n);

    const stored = await store.putBlob(verifying(content), { expectedDigest: digest, expectedSize: content.length });

    expect(stored).toEqual({ digest, size: content.length, existed: false });
    expect(await readFile(store.blobPath(digest))).toEqual(content);
    expect(bytes).toBe(content.length);
  });
});

describe('DurableFileStream', () => {
  it('writes every byte of a file several flush intervals long, in order', async () => {
    // Prepare: 2.5 flush intervals of numbered 1 MiB chunks, so a reordering or a lost chunk shows
    const chunks = Array.from({ length: Math.ceil((2.5 * FLUSH_EVERY_BYTES) / 1048576) }, (_, i) => Buffer.alloc(1048576, i % 251));
    const file = path.join(dir, 'big');

    // Act
    await pipeline(Readable.from(chunks), new DurableFileStream(file));

    // Assess
    expect((await readFile(file)).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('refuses to overwrite an existing file by default', async () => {
    const file = path.join(dir, 'exists');
    await pipeline(Readable.from([Buffer.from('first')]), new DurableFileStream(file));

    await expect(pipeline(Readable.from([Buffer.from('second')]), new DurableFileStream(file))).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(file, 'utf8')).toBe('first');
  });

  it('closes its descriptor when the source fails midway, and reports the source error', async () => {
    const file = path.join(dir, 'broken');
    async function* failing() {
      yield Buffer.alloc(FLUSH_EVERY_BYTES + 1);
      throw new Error('source broke');
    }

    await expect(pipeline(Readable.from(failing()), new DurableFileStream(file))).rejects.toThrow('source broke');
    // No descriptor of this process still points at the file (Linux: /proc/self/fd)
    await expect.poll(async () => openOn(file)).toEqual([]);
    expect(await readdir(dir)).toEqual(['broken']);
  });
});

describe('readFileStream (reads ahead)', () => {
  const read = async (stream: Readable) => {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const numbered = (size: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + (i >> 9)) % 256));

  it.each([
    ['empty', 0],
    ['shorter than a chunk', 1000],
    ['exactly two chunks', 2 * READ_CHUNK_BYTES],
    ['a few chunks and a bit', 5 * READ_CHUNK_BYTES + 123],
  ])('reads a whole file %s, byte for byte', async (_name, size) => {
    const file = path.join(dir, 'f');
    const bytes = numbered(size);
    await writeFile(file, bytes);

    expect((await read(readFileStream(file))).equals(bytes)).toBe(true);
  });

  it.each([
    [0, 0],
    [1, READ_CHUNK_BYTES],
    [READ_CHUNK_BYTES - 1, 3 * READ_CHUNK_BYTES + 1],
    [100, 99],
  ])('reads the inclusive range %i..%i from an open handle', async (start, end) => {
    const file = path.join(dir, 'f');
    const bytes = numbered(4 * READ_CHUNK_BYTES);
    await writeFile(file, bytes);

    const got = await read(readFileStream(file, { fd: await open(file, 'r'), start, end }));

    expect(got.equals(bytes.subarray(start, end + 1))).toBe(true);
  });

  it('ends early, without error, where a file truncated under it ends', async () => {
    // Prepare: a range announced past what the file now holds (a bundle cut short on the media)
    const file = path.join(dir, 'f');
    const bytes = numbered(4 * READ_CHUNK_BYTES);
    await writeFile(file, bytes);
    await truncate(file, READ_CHUNK_BYTES + 10);

    const got = await read(readFileStream(file, { start: 0, end: bytes.length - 1 }));

    // Assess: the consumer sees fewer bytes, which its size check refuses
    expect(got.equals(bytes.subarray(0, READ_CHUNK_BYTES + 10))).toBe(true);
  });

  it('closes its handle when destroyed midway', async () => {
    const file = path.join(dir, 'f');
    await writeFile(file, numbered(8 * READ_CHUNK_BYTES));
    const handle = await open(file, 'r');
    const stream = readFileStream(file, { fd: handle });

    for await (const _chunk of stream) break; // destroys the stream
    await new Promise((resolve) => setImmediate(resolve));

    // Assess: the handle is closed (a closed FileHandle has fd -1)
    await expect.poll(() => handle.fd).toBe(-1);
  });

  it('reports a missing file as the stream error', async () => {
    await expect(read(readFileStream(path.join(dir, 'absent')))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('import config: a target registry\'s uploadChunkSize', () => {
  const config = (registry: Record<string, unknown>) => ({
    target: { url: 'http://127.0.0.1:1', registries: { 'docker-hosted': { url: 'http://127.0.0.1:2', ...registry } } },
    trust: { publicKeyFiles: ['k.pub'] },
  });

  it('is read with units, and left unset by default (one request per blob)', () => {
    expect(importConfigSchema.parse(config({ uploadChunkSize: '64MiB' })).target.registries['docker-hosted']?.uploadChunkSize).toBe(64 * 1024 * 1024);
    expect(importConfigSchema.parse(config({})).target.registries['docker-hosted']?.uploadChunkSize).toBeUndefined();
  });

  it('refuses what is no size, naming the field', () => {
    const parsed = importConfigSchema.safeParse(config({ uploadChunkSize: 'a lot' }));
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['target', 'registries', 'docker-hosted', 'uploadChunkSize']);
  });
});

/** This process's open descriptors on `file` (Linux: the links in /proc/self/fd). */
async function openOn(file: string): Promise<string[]> {
  const found: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === file) found.push(fd);
  }
  return found;
}
