import { createHash, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import tar, { type Header } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobSource } from '../shared/core/ports/index.ts';
import { sha256Of, type Digest } from '../shared/digest.ts';
import {
  BUNDLE_FORMAT,
  BUNDLE_FORMAT_V1,
  bundleFormatFor,
  BundleError,
  BundleWriteError,
  bundleFileName,
  ManifestError,
  manifestDigest,
  parseManifest,
  readBundleSummary,
  serializeManifest,
  TarEndError,
  verifyBundle,
  writeBundle,
  type BundleManifest,
  type VerifyOptions,
} from '../shared/bundle/index.ts';
import { generateSigningKeyPair, localSigner } from '../shared/signing.ts';

// ───────────────────────────── helpers ─────────────────────────────

const WHERE = 'corp-nexus-00000002.tar';
const CREATED_AT = '2026-11-23T19:00:00.000Z';

function keyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  const pair = generateSigningKeyPair();
  return { privateKey: createPrivateKey(pair.privateKeyPem), publicKey: createPublicKey(pair.publicKeyPem) };
}
const signer = keyPair();

function bufferSource(content: Buffer): BlobSource {
  return { size: content.length, open: async () => Readable.from([content]) };
}

/** Builds a manifest (without layout) carrying `included` blobs and one required blob. */
function manifestFor(included: { digest: Digest; size: number }[], sequence = 2): Omit<BundleManifest, 'layout'> {
  const required = { digest: sha256Of('shipped earlier'), size: 15, shippedIn: 1 };
  return {
    format: BUNDLE_FORMAT,
    sourceId: 'corp-nexus',
    sequence,
    previous: sequence === 1 ? null : sha256Of('bundle 1 manifest'),
    createdAt: CREATED_AT,
    entries: [...included, required].map((blob, index) => ({
      kind: 'raw' as const,
      source: { repository: 'raw-a', path: `/dir/file-${index}.bin` },
      target: { repository: 'raw-b', path: `/dir/file-${index}.bin` },
      digest: blob.digest,
      size: blob.size,
      checksums: { sha1: createHash('sha1').update(String(index)).digest('hex') },
    })),
    blobs: { included, required: sequence === 1 ? [] : [required] },
  };
}

const smallBlobs = [randomBytes(1000), randomBytes(70_000), Buffer.from('hello\n')];

async function smallBundle(): Promise<{ tar: Buffer; manifestBytes: Buffer; manifestDigest: Digest }> {
  const store = new Map(smallBlobs.map((content) => [sha256Of(content), content]));
  const manifest = manifestFor(smallBlobs.map((content) => ({ digest: sha256Of(content), size: content.length })));
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  const result = await writeBundle(out, {
    manifest,
    signer: localSigner(signer.privateKey),
    blobs: async (digest) => bufferSource(store.get(digest) as Buffer),
  });
  return { tar: Buffer.concat(chunks), manifestBytes: result.manifestBytes, manifestDigest: result.manifestDigest };
}

function verify(bytes: Buffer, options: Partial<VerifyOptions> = {}) {
  return verifyBundle(Readable.from([bytes]), { where: WHERE, trustedKeys: [signer.publicKey], ...options });
}

async function refusal(promise: Promise<unknown>): Promise<BundleError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(BundleError);
  return error as BundleError;
}

function unexpected(): never {
  throw new Error('expected a rejection');
}

interface Member {
  header: Header;
  content: Buffer;
}

async function membersOf(bytes: Buffer): Promise<Member[]> {
  const extract = tar.extract();
  const members: Member[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      members.push({ header: entry.header, content: Buffer.concat(chunks) });
    }
  })();
  extract.end(bytes);
  await done;
  return members;
}

/** Packs members as given, however malicious: tar-stream writes what it is told. */
async function craft(members: { header: Partial<Header> & { name: string }; content?: Buffer }[]): Promise<Buffer> {
  const pack = tar.pack();
  const collected = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  })();
  for (const { header, content } of members) {
    await new Promise<void>((resolve, reject) => {
      const callback = (error?: Error | null) => (error ? reject(error) : resolve());
      if (content !== undefined) pack.entry(header, content, callback);
      else pack.entry(header, callback);
    });
  }
  pack.finalize();
  return collected;
}

/** Where the last member's data (padded to 512) ends: members as written, without extension headers. */
function tarEnd(members: Member[]): number {
  return members.reduce((end, member) => end + 512 + Math.ceil(member.content.length / 512) * 512, 0);
}

function tamper(bytes: Buffer, needle: Buffer | string, offset = 0): Buffer {
  const copy = Buffer.from(bytes);
  const at = copy.indexOf(needle);
  expect(at).toBeGreaterThanOrEqual(0);
  copy[at + offset] = (copy[at + offset] ?? 0) ^ 0x01;
  return copy;
}

/** A deterministic ~64 MiB blob generated chunk by chunk, never held whole. */
const BIG_CHUNK = randomBytes(1024 * 1024);
const BIG_CHUNKS = 64;
function bigBlobStream(): Readable {
  return Readable.from(
    (function* () {
      for (let index = 0; index < BIG_CHUNKS; index += 1) {
        const chunk = Buffer.from(BIG_CHUNK);
        chunk.writeUInt32BE(index, 0);
        yield chunk;
      }
    })(),
  );
}

// ───────────────────────────── manifest ─────────────────────────────

describe('bundle manifest', () => {
  const valid = { ...manifestFor([{ digest: sha256Of('a'), size: 1 }]), layout: { index: sha256Of('{}') } };
  const parse = (value: unknown) => () => parseManifest(Buffer.from(JSON.stringify(value)), 'manifest.json');

  it('round-trips through deterministic bytes whatever the key order', () => {
    // Prepare
    const reordered = Object.fromEntries(Object.entries(valid).reverse()) as BundleManifest;

    // Act
    const bytes = serializeManifest(reordered);

    // Assess
    expect(bytes.equals(serializeManifest(valid))).toBe(true);
    expect(parseManifest(bytes, 'manifest.json')).toEqual(valid);
    expect(manifestDigest(bytes)).toBe(sha256Of(bytes));
    expect(bytes.toString().startsWith('{\n  "format": "ferry.bundle.v2",\n  "sourceId"')).toBe(true);
  });

  it('names the JSON field path of each schema error', () => {
    // Prepare
    const entries = [valid.entries[0], valid.entries[1], { ...valid.entries[0], target: { repository: 'raw-b', path: 'dir/x' } }];
    const badPaths = { ...valid, entries, sequence: 0, sourceId: 'Corp Nexus' };

    // Act
    const run = parse(badPaths);

    // Assess
    expect(run).toThrow(ManifestError);
    expect(run).toThrow("entries[2].target.path: must start with '/'");
    expect(run).toThrow('sequence: must be at least 1');
    expect(run).toThrow('sourceId: must match');
  });

  it("refuses '..' segments, NUL and unknown fields in entries", () => {
    // Prepare
    const entry = valid.entries[0];
    const dotdot = { ...valid, entries: [{ ...entry, source: { repository: 'raw-a', path: '/a/../../etc/passwd' } }] };
    const nul = { ...valid, entries: [{ ...entry, target: { repository: 'raw-b', path: '/a\0b' } }] };
    const extra = { ...valid, entries: [{ ...entry, extra: 1 }] };
    const kind = { ...valid, entries: [{ ...entry, kind: 'conda' }] };

    // Act & Assess
    expect(parse(dotdot)).toThrow("entries[0].source.path: must not contain a '.' or '..' segment");
    expect(parse(nul)).toThrow('entries[0].target.path: must not contain control characters');
    expect(parse(extra)).toThrow(/entries\[0\]: unknown field\(s\) "extra"/);
    expect(parse(kind)).toThrow(/entries\[0\].kind/);
  });

  it.each([
    ['/dir/./x.bin', "must not contain a '.' or '..' segment"],
    ['/dir//x.bin', "must not contain an empty segment ('//')"],
    ['/dir/x\u0007.bin', 'must not contain control characters'],
    ['/dir/x\u007f.bin', 'must not contain control characters'],
    ['/dir/x\n.bin', 'must not contain control characters'],
    ['/dir\\x.bin', 'must not contain a backslash'],
    ['/dir/', "must name a file (not end with '/')"],
  ])('refuses a target path Nexus would refuse or rewrite: %j', (badPath, message) => {
    // Prepare
    const bad = { ...valid, entries: [{ ...valid.entries[0], target: { repository: 'raw-b', path: badPath } }] };

    // Act & Assess
    expect(parse(bad)).toThrow(`entries[0].target.path: ${message}`);
  });

  it('enforces the consistency rules between entries, blobs and the chain', () => {
    // Prepare
    const [included] = valid.blobs.included;
    const orphan = { ...valid, entries: [...valid.entries, { ...valid.entries[0], digest: sha256Of('nowhere') }] };
    const both = { ...valid, blobs: { ...valid.blobs, required: [...valid.blobs.required, { ...included, shippedIn: 1 }] } };
    const dup = { ...valid, blobs: { ...valid.blobs, included: [included, included] } };
    const firstWithPrevious = { ...valid, sequence: 1, blobs: { ...valid.blobs, required: [] } };
    const laterWithoutPrevious = { ...valid, previous: null };

    // Act & Assess
    expect(parse(orphan)).toThrow(/entries\[2\]\.digest: sha256:[0-9a-f]{64} is in neither blobs.included nor blobs.required/);
    expect(parse(both)).toThrow('blobs.required[1].digest: also listed in blobs.included[0]');
    expect(parse(dup)).toThrow('blobs.included[1].digest: duplicate of blobs.included[0]');
    expect(parse(firstWithPrevious)).toThrow('previous: must be null for sequence 1');
    expect(parse(laterWithoutPrevious)).toThrow("previous: must name the previous bundle's manifest digest");
  });

  describe('package entries (ferry.bundle.v2)', () => {
    const signature = { digest: sha256Of('sig'), size: 3 };
    const wheel = {
      kind: 'pypi' as const,
      source: { repository: 'pypi-hosted', path: '/packages/sample/1.0.0/sample-1.0.0-py3-none-any.whl' },
      target: { repository: 'pypi-hosted', path: '/packages/sample/1.0.0/sample-1.0.0-py3-none-any.whl' },
      digest: sha256Of('a'),
      size: 1,
      checksums: { md5: createHash('md5').update('a').digest('hex') },
      component: { group: null, name: 'sample', version: '1.0.0' },
      signature,
    };
    const jar = {
      kind: 'maven2' as const,
      source: { repository: 'maven-releases', path: '/org/example/widget/1.0.0/widget-1.0.0-sources.jar' },
      target: { repository: 'maven-releases', path: '/org/example/widget/1.0.0/widget-1.0.0-sources.jar' },
      digest: sha256Of('a'),
      size: 1,
      checksums: {},
      component: { group: 'org.example', name: 'widget', version: '1.0.0' },
      maven: { baseVersion: '1.0.0', extension: 'jar', classifier: 'sources' },
    };
    const withEntries = (entries: object[], included = [{ digest: sha256Of('a'), size: 1 }, signature]) => ({
      ...valid,
      entries,
      blobs: { included, required: [] },
    });

    it('round-trips a maven2 and a signed pypi entry in canonical key order', () => {
      // Prepare
      const manifest = withEntries([{ ...jar, maven: { classifier: 'sources', extension: 'jar', baseVersion: '1.0.0' } }, wheel]) as BundleManifest;

      // Act
      const bytes = serializeManifest(manifest);
      const parsed = parseManifest(bytes, 'manifest.json');

      // Assess
      expect(parsed.entries).toEqual([jar, wheel]);
      expect(bytes.toString()).toContain('"maven": {\n        "baseVersion": "1.0.0",\n        "extension": "jar",\n        "classifier": "sources"');
      expect(serializeManifest(parsed).equals(bytes)).toBe(true);
    });

    it('needs the signature of a pypi entry in the blob lists, like its own blob', () => {
      // Prepare
      const manifest = withEntries([wheel], [{ digest: sha256Of('a'), size: 1 }]);

      // Act & Assess
      expect(parse(manifest)).toThrow(`entries[0].signature.digest: ${signature.digest} is in neither blobs.included nor blobs.required`);
    });

    it('refuses package kinds in a ferry.bundle.v1 manifest, and writes v1 only for raw and image entries', () => {
      // Prepare
      const old = { ...withEntries([jar]), format: BUNDLE_FORMAT_V1 };

      // Act & Assess
      expect(parse(old)).toThrow('entries[0].kind: maven2 entries need format ferry.bundle.v2');
      expect(bundleFormatFor([{ kind: 'raw' }, { kind: 'image' }])).toBe('ferry.bundle.v1');
      expect(bundleFormatFor([{ kind: 'raw' }, { kind: 'npm' }])).toBe('ferry.bundle.v2');
    });

    it('refuses a component with control characters and a Maven extension that is not one', () => {
      // Prepare
      const bad = withEntries([{ ...jar, component: { group: 'org.example', name: 'wid\nget', version: '1.0.0' }, maven: { ...jar.maven, extension: 'jar/../x' } }]);

      // Act & Assess
      expect(parse(bad)).toThrow('entries[0].component.name: must not contain control characters');
      expect(parse(bad)).toThrow('entries[0].maven.extension: must be a Maven extension');
    });
  });

  it('refuses bytes that are not JSON, naming where', () => {
    // Act & Assess
    expect(() => parseManifest(Buffer.from('{"format":'), 'bundle x.tar: member ferry/manifest.json')).toThrow(
      /^bundle x.tar: member ferry\/manifest.json: not valid UTF-8 JSON/,
    );
  });

  it('names bundle files by source id and zero-padded sequence', () => {
    // Act & Assess
    expect(bundleFileName('corp-nexus', 3)).toBe('corp-nexus-00000003.tar');
    expect(() => bundleFileName('../x', 1)).toThrow(TypeError);
  });
});

// ───────────────────────────── writer and reader ─────────────────────────────

describe('bundle writer and verifier', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-bundle-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips several blobs, one of 64 MiB, streaming through a file', async () => {
    // Prepare
    const bigHash = createHash('sha256');
    for await (const chunk of bigBlobStream()) bigHash.update(chunk as Buffer);
    const big = { digest: `sha256:${bigHash.digest('hex')}` as Digest, size: BIG_CHUNKS * BIG_CHUNK.length };
    const sources = new Map<Digest, BlobSource>(smallBlobs.map((content) => [sha256Of(content), bufferSource(content)]));
    sources.set(big.digest, { size: big.size, open: async () => bigBlobStream() });
    const included = [...smallBlobs.map((content) => ({ digest: sha256Of(content), size: content.length })), big];
    const file = join(dir, bundleFileName('corp-nexus', 2));

    // Act
    const written = await writeBundle(createWriteStream(file), {
      manifest: manifestFor(included),
      signer: localSigner(signer.privateKey),
      blobs: async (digest) => sources.get(digest) as BlobSource,
    });
    const received: { digest: string; size: number; sha256: string }[] = [];
    const seenManifest: Digest[] = [];
    const verified = await verifyBundle(createReadStream(file, { highWaterMark: 256 * 1024 }), {
      where: WHERE,
      trustedKeys: [signer.publicKey],
      onManifest: (_manifest, digest) => {
        seenManifest.push(digest);
      },
      onBlob: async (blob, content) => {
        const hash = createHash('sha256');
        let size = 0;
        for await (const chunk of content) {
          hash.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
        received.push({ digest: blob.digest, size, sha256: `sha256:${hash.digest('hex')}` });
      },
    });

    // Assess
    expect(verified.manifestDigest).toBe(written.manifestDigest);
    expect(verified.bytes).toBe(written.bytes);
    expect(verified.manifest).toEqual(parseManifest(written.manifestBytes, 'written'));
    expect(verified.manifest.blobs.included).toEqual(included);
    expect(seenManifest).toEqual([written.manifestDigest]);
    expect(received).toEqual(included.map((blob) => ({ digest: blob.digest, size: blob.size, sha256: blob.digest })));
  });

  it('writes the members in the documented order as reproducible regular files', async () => {
    // Act
    const first = await smallBundle();
    const second = await smallBundle();
    const members = await membersOf(first.tar);
    const summary = await readBundleSummary(Readable.from([first.tar]), WHERE);

    // Assess
    expect(first.tar.equals(second.tar)).toBe(true);
    expect(members.map((member) => member.header.name)).toEqual([
      'oci-layout',
      'index.json',
      'ferry/manifest.json',
      'ferry/manifest.sig',
      ...smallBlobs.map((content) => `blobs/sha256/${sha256Of(content).slice(7)}`),
    ]);
    for (const { header } of members) {
      expect(header).toMatchObject({ type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: new Date(CREATED_AT) });
    }
    expect(members[0]?.content.toString()).toBe('{"imageLayoutVersion":"1.0.0"}');
    expect(JSON.parse(members[1]?.content.toString() ?? '')).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [],
    });
    expect(summary.manifest.layout.index).toBe(sha256Of(members[1]?.content ?? ''));
    expect(summary.members.map((member) => member.name)).toEqual(members.map((member) => member.header.name));
    expect(summary.signature?.keyId).toMatch(/^sha256:/);
    expect(summary.manifestDigest).toBe(first.manifestDigest);
  });

  it('refuses a bundle whose blob has one flipped byte, naming the member', async () => {
    // Prepare
    const { tar: bytes } = await smallBundle();
    const blob = smallBlobs[1] as Buffer;
    const committed: string[] = [];

    // Act
    const error = await refusal(
      verify(tamper(bytes, blob, 5000), {
        onBlob: async (info, content) => {
          for await (const _chunk of content) {
            // a consumer that commits only on a clean end
          }
          committed.push(info.digest);
        },
      }),
    );

    // Assess
    expect(error.code).toBe('BLOB_MISMATCH');
    expect(error.message).toMatch(
      new RegExp(`^bundle ${WHERE}: member blobs/sha256/${sha256Of(blob).slice(7)}: sha256 mismatch \\(expected [0-9a-f]{64}, got [0-9a-f]{64}\\)$`),
    );
    expect(committed).toEqual([sha256Of(smallBlobs[0] as Buffer)]);
  });

  it('hashes the blobs skipContent picks straight off the tar: each verified one reported with its offset, a flipped byte refused in the same words', async () => {
    // Prepare
    const { tar: bytes } = await smallBundle();
    const [first, second] = smallBlobs as [Buffer, Buffer, Buffer];
    const verified: { digest: Digest; size: number; offset: number }[] = [];
    const streamed: Digest[] = [];
    const options = (skipped: Digest) => ({
      skipContent: (blob: { digest: Digest }) => blob.digest === skipped,
      onBlobVerified: (blob: { digest: Digest; size: number; offset: number }) => void verified.push(blob),
      onBlob: async (info: { digest: Digest }, content: Readable) => {
        for await (const _chunk of content);
        streamed.push(info.digest);
      },
    });

    // Act
    await verify(bytes, options(sha256Of(second)));
    const good = verified.splice(0);
    const error = await refusal(verify(tamper(bytes, second, 5000), options(sha256Of(second))));

    // Assess: the skipped blob never reached onBlob; its offset points at its bytes
    expect(good).toHaveLength(1);
    expect(good[0]!.digest).toBe(sha256Of(second));
    expect(bytes.subarray(good[0]!.offset, good[0]!.offset + second.length).equals(second)).toBe(true);
    expect(streamed.filter((d) => d === sha256Of(second))).toEqual([]);
    expect(streamed).toContain(sha256Of(first));
    expect(error.code).toBe('BLOB_MISMATCH');
    expect(error.message).toMatch(
      new RegExp(`^bundle ${WHERE}: member blobs/sha256/${sha256Of(second).slice(7)}: sha256 mismatch \\(expected [0-9a-f]{64}, got [0-9a-f]{64}\\)$`),
    );
    expect(verified).toEqual([]);
  });

  it('tells onBlobStart where each skipped blob starts before it is hashed, and only for skipped blobs', async () => {
    // Prepare
    const { tar: bytes } = await smallBundle();
    const second = smallBlobs[1] as Buffer;
    const events: string[] = [];
    const started: { digest: Digest; offset: number }[] = [];

    // Act
    await verify(bytes, {
      skipContent: (blob) => blob.digest === sha256Of(second),
      onBlobStart: (blob) => {
        events.push(`start ${blob.digest}`);
        started.push(blob);
      },
      onBlobVerified: (blob) => void events.push(`verified ${blob.digest}`),
    });

    // Assess
    expect(events).toEqual([`start ${sha256Of(second)}`, `verified ${sha256Of(second)}`]);
    expect(bytes.subarray(started[0]!.offset, started[0]!.offset + second.length).equals(second)).toBe(true);
  });

  it('refuses a tampered manifest, signature or index.json, naming what failed', async () => {
    // Prepare
    const { tar: bytes, manifestBytes } = await smallBundle();
    const signature = JSON.parse((await membersOf(bytes))[3]?.content.toString() ?? '{}') as { signature: string };

    // Act
    const manifest = await refusal(verify(tamper(bytes, manifestBytes, manifestBytes.indexOf('raw-b') + 1)));
    const sig = await refusal(verify(tamper(bytes, signature.signature, 20)));
    const index = await refusal(verify(tamper(bytes, 'index.v1+json', 'index.v'.length)));

    // Assess
    expect(manifest.code).toBe('BAD_SIGNATURE');
    expect(manifest.message).toMatch(/^bundle corp-nexus-00000002.tar: member ferry\/manifest.sig: signature over ferry\/manifest.json refused: bad signature/);
    expect(sig.code).toBe('BAD_SIGNATURE');
    expect(index.code).toBe('INDEX_MISMATCH');
    expect(index.message).toMatch(/member index.json: sha256 mismatch with manifest layout.index/);
  });

  it('refuses a bundle signed by a key that is not trusted, before reading any blob', async () => {
    // Prepare
    const { tar: bytes } = await smallBundle();
    let blobsSeen = 0;

    // Act
    const error = await refusal(
      verify(bytes, {
        trustedKeys: [keyPair().publicKey],
        onBlob: async () => {
          blobsSeen += 1;
        },
      }),
    );

    // Assess
    expect(error.code).toBe('BAD_SIGNATURE');
    expect(error.message).toContain('unknown key');
    expect(blobsSeen).toBe(0);
  });

  it('stops before any blob when onManifest refuses', async () => {
    // Prepare
    const { tar: bytes } = await smallBundle();
    let blobsSeen = 0;

    // Act
    const error = await verify(bytes, {
      onManifest: (manifest) => {
        throw new Error(`out of sequence: ${manifest.sequence}`);
      },
      onBlob: async () => {
        blobsSeen += 1;
      },
    }).then(unexpected, (reason: unknown) => reason as Error);

    // Assess
    expect(error.message).toBe('out of sequence: 2');
    expect(blobsSeen).toBe(0);
  });

  it('makes writeBundle reject when a staged blob rotted, without ending the output cleanly', async () => {
    // Prepare
    const content = randomBytes(4096);
    const rotten = Buffer.from(content);
    rotten[100] = (rotten[100] ?? 0) ^ 0xff;
    const manifest = manifestFor([{ digest: sha256Of(content), size: content.length }]);
    const shortOut = new PassThrough();
    shortOut.resume();
    const sameSizeOut = new PassThrough();
    sameSizeOut.resume();

    // Act
    const wrongBytes = await writeBundle(sameSizeOut, {
      manifest,
      signer: localSigner(signer.privateKey),
      blobs: async () => bufferSource(rotten),
    }).then(unexpected, (error: unknown) => error as BundleWriteError);
    const wrongSize = await writeBundle(shortOut, {
      manifest,
      signer: localSigner(signer.privateKey),
      blobs: async () => ({ size: content.length, open: async () => Readable.from([content.subarray(1)]) }),
    }).then(unexpected, (error: unknown) => error as BundleWriteError);

    // Assess
    expect(wrongBytes).toBeInstanceOf(BundleWriteError);
    expect(wrongBytes.code).toBe('STAGED_BLOB_MISMATCH');
    expect(wrongBytes.message).toMatch(new RegExp(`^sealing corp-nexus-00000002.tar: blob ${sha256Of(content)}: staged content sha256 mismatch`));
    expect(wrongSize.code).toBe('STAGED_BLOB_MISMATCH');
    expect(wrongSize.message).toContain('size mismatch (expected 4096 bytes, got 4095)');
    expect(sameSizeOut.writableFinished).toBe(false);
    expect(shortOut.writableFinished).toBe(false);
  });

  it('refuses to seal a manifest that breaks the rules', async () => {
    // Prepare
    const manifest = { ...manifestFor([]), previous: null };

    // Act
    const error = await writeBundle(new PassThrough(), {
      manifest,
      signer: localSigner(signer.privateKey),
      blobs: async () => bufferSource(Buffer.alloc(0)),
    }).then(unexpected, (reason: unknown) => reason as BundleWriteError);

    // Assess
    expect(error.code).toBe('INVALID_MANIFEST');
    expect(error.message).toContain('previous: must name');
  });
});

// ───────────────────────────── hostile tars ─────────────────────────────

describe('bundle verifier against hostile tars', () => {
  let members: Member[];
  const blobName = (index: number) => members[4 + index]?.header.name as string;
  const asInput = (member: Member) => ({ header: { ...member.header, pax: undefined }, content: member.content });
  beforeAll(async () => {
    members = await membersOf((await smallBundle()).tar);
  });

  const cases: [string, () => Promise<Buffer>, string, RegExp][] = [
    ['an absolute path', () => craft([{ header: { name: '/etc/passwd' }, content: Buffer.from('x') }]), 'UNSAFE_PATH', /member \/etc\/passwd: is an absolute path/],
    ['a ../ path', () => craft([...members.slice(0, 4).map(asInput), { header: { name: '../x' }, content: Buffer.from('x') }]), 'UNSAFE_PATH', /member \.\.\/x: contains a '\.\.' segment/],
    ['a backslash', () => craft([{ header: { name: 'blobs\\sha256' }, content: Buffer.from('x') }]), 'UNSAFE_PATH', /contains a backslash/],
    ['a symlink', () => craft([...members.slice(0, 4).map(asInput), { header: { name: blobName(0), type: 'symlink', linkname: '/etc/passwd' } }]), 'NON_REGULAR_MEMBER', /is a symbolic link, not a regular file/],
    ['a hardlink', () => craft([...members.slice(0, 4).map(asInput), { header: { name: blobName(0), type: 'link', linkname: 'oci-layout' } }]), 'NON_REGULAR_MEMBER', /is a hard link/],
    ['a directory', () => craft([{ header: { name: 'blobs', type: 'directory' } }]), 'NON_REGULAR_MEMBER', /member blobs: is a directory/],
    ['a duplicate member', () => craft([...members.map(asInput), asInput(members[4] as Member)]), 'DUPLICATE_MEMBER', /appears more than once/],
    ['an unknown member', () => craft([...members.slice(0, 4).map(asInput), { header: { name: 'ferry/extra.sh' }, content: Buffer.from('rm -rf /') }]), 'UNKNOWN_MEMBER', /member ferry\/extra.sh: is not part of the bundle format/],
    ['a blob before the manifest', () => craft([...members.slice(0, 2), members[4], ...members.slice(2, 4)].map((m) => asInput(m as Member))), 'MEMBER_OUT_OF_ORDER', /out of order \(expected ferry\/manifest.json here\)/],
    ['a missing signature', () => craft(members.slice(0, 3).map(asInput)), 'MISSING_MEMBER', /member ferry\/manifest.sig: is missing/],
    ['a missing included blob', () => craft(members.slice(0, 6).map(asInput)), 'MISSING_BLOB', /is listed in the manifest blobs.included but missing/],
    ['an unlisted blob', () => craft([...members.map(asInput), { header: { name: `blobs/sha256/${sha256Of('x').slice(7)}` }, content: Buffer.from('x') }]), 'UNLISTED_BLOB', /not listed in the manifest/],
    ['a bad oci-layout', () => craft([{ header: { name: 'oci-layout' }, content: Buffer.from('{"imageLayoutVersion":"2.0.0"}') }, ...members.slice(1).map(asInput)]), 'INVALID_LAYOUT', /member oci-layout: must be/],
    ['a blob whose tar size differs from the manifest', () => craft([...members.slice(0, 4).map(asInput), { header: { name: blobName(0) }, content: Buffer.alloc(10) }]), 'BLOB_MISMATCH', /size mismatch \(expected 1000 bytes from the manifest, got 10\)/],
  ];

  for (const [what, build, code, message] of cases) {
    it(`refuses ${what}`, async () => {
      // Prepare
      const bytes = await build();

      // Act
      const error = await refusal(verify(bytes));

      // Assess
      expect(error.code).toBe(code);
      expect(error.message).toMatch(new RegExp(`^bundle ${WHERE}: `));
      expect(error.message).toMatch(message);
    });
  }

  it('refuses a truncated tar and trailing garbage as malformed', async () => {
    // Prepare
    const whole = await craft(members.map(asInput));
    const truncated = whole.subarray(0, whole.length - 1024 - 3000);
    const garbage = Buffer.concat([whole, Buffer.alloc(512, 0x41)]);

    // Act
    const errors = [await refusal(verify(truncated)), await refusal(verify(garbage))];

    // Assess
    expect(errors.map((error) => error.code)).toEqual(['MALFORMED_TAR', 'MALFORMED_TAR']);
    expect(errors[0]?.message).toMatch(/^bundle corp-nexus-00000002.tar: not a valid tar \(/);
  });

  it('refuses a bundle cut off after its last member, without the end-of-archive marker', async () => {
    // Prepare
    const { tar: whole } = await smallBundle();
    const end = tarEnd(await membersOf(whole));
    const cuts = [whole.subarray(0, end), whole.subarray(0, end + 512)];

    // Act
    const verified = await Promise.all(cuts.map((bytes) => refusal(verify(bytes))));
    const summarised = await refusal(readBundleSummary(Readable.from([cuts[0] as Buffer]), WHERE));

    // Assess
    expect(whole.length - end).toBe(1024); // what was cut: the two zero blocks (tar-stream pads no record)
    for (const error of [...verified, summarised]) expect(error).toBeInstanceOf(TarEndError);
    expect(verified[0]?.message).toBe(`bundle ${WHERE}: not a valid tar (truncated: ends at byte ${end} without the end-of-archive marker)`);
    expect(verified[1]?.message).toMatch(/truncated: ends at byte \d+ after a single zero block; the end-of-archive marker is two\)$/);
    expect(summarised.message).toMatch(/without the end-of-archive marker/);
  });

  it('refuses non-zero bytes after the end-of-archive marker, naming where they start', async () => {
    // Prepare
    const { tar: whole } = await smallBundle();
    // a block tar-stream takes for a zero block (it compares the checksum field with blanks), and plain text
    const nullLooking = Buffer.alloc(512);
    nullLooking.write('junk', 148, 'latin1');
    const appended = [nullLooking, Buffer.from('trailing text\n'.repeat(100))];

    // Act
    const errors = await Promise.all(appended.map((junk) => refusal(verify(Buffer.concat([whole, junk])))));

    // Assess
    for (const error of errors) {
      expect(error).toBeInstanceOf(TarEndError);
      expect(error.code).toBe('MALFORMED_TAR');
    }
    expect(errors[0]?.message).toBe(
      `bundle ${WHERE}: not a valid tar (non-zero bytes at byte ${whole.length + 148} after the end-of-archive marker at byte ${whole.length - 1024})`,
    );
    expect(errors[1]?.message).toContain(`non-zero bytes at byte ${whole.length} after the end-of-archive marker`);
  });

  it('refuses a member hidden after a lone zero block', async () => {
    // Prepare
    const before = await craft(members.slice(0, -1).map(asInput));
    const last = await craft(members.slice(-1).map(asInput));
    const hidden = Buffer.concat([before.subarray(0, before.length - 1024), Buffer.alloc(512), last]);

    // Act
    const error = await refusal(verify(hidden));

    // Assess
    expect(error).toBeInstanceOf(TarEndError);
    expect(error.message).toMatch(new RegExp(`data at byte ${before.length - 512} after a lone zero block at byte ${before.length - 1024}\\)$`));
  });

  it('accepts the end-of-archive marker followed by zero record padding', async () => {
    // Prepare
    const { tar: whole, manifestDigest: digest } = await smallBundle();
    const padded = Buffer.concat([whole, Buffer.alloc(10240 - (whole.length % 10240))]);

    // Act
    const verified = await Promise.all([whole, padded].map((bytes) => verify(bytes)));
    const summary = await readBundleSummary(Readable.from([padded]), WHERE);

    // Assess
    expect(verified.map((result) => [result.manifestDigest, result.bytes])).toEqual([
      [digest, whole.length],
      [digest, padded.length],
    ]);
    expect(padded.length % 10240).toBe(0);
    expect(summary.manifestDigest).toBe(digest);
  });

  it('checks path safety even when only summarising', async () => {
    // Prepare
    const bytes = await craft([...members.slice(0, 4).map(asInput), { header: { name: 'x', type: 'symlink', linkname: '/' } }]);

    // Act
    const error = await refusal(readBundleSummary(Readable.from([bytes]), WHERE));

    // Assess
    expect(error.code).toBe('NON_REGULAR_MEMBER');
  });
});
