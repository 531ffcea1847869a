/**
 * The ObjectStore contract (shared/core/ports.ts), run against every adapter: the
 * directory store, S3 and the in-memory fake. Only behaviour the port promises is asserted
 * here; layouts on disk or in a bucket are each adapter's own tests.
 */
import { Readable, type Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ChecksumMismatchError, HashingStream, SizeMismatchError, sha256Of, type Digest } from '../../shared/digest.ts';
import type { ObjectStore } from '../../shared/core/ports/index.ts';
import { BlobNotFoundError, BundleNotFoundError, BundleNotStagedError, InvalidBundleNameError, InvalidDigestError } from '../../shared/core/ports/errors.ts';

export interface ObjectStoreHarness {
  /** The store under test; the contract covers `listBlobs` (every adapter here backs receipts) and bundle reports too. */
  store: ObjectStore & Required<Pick<ObjectStore, 'listBlobs' | 'putBundleReport' | 'openBundle'>>;
  /** Another instance of the adapter on the same storage, as a restarted process would open it. */
  reopen(): Promise<ObjectStore>;
  /** The bytes of a published bundle, read from the outbox the way ops take it. */
  readBundle(name: string): Promise<Buffer>;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

export function objectStoreContract(makeHarness: () => Promise<ObjectStoreHarness>): void {
  let harness: ObjectStoreHarness;
  let store: ObjectStoreHarness['store'];

  beforeEach(async () => {
    harness = await makeHarness();
    store = harness.store;
  });

  afterEach(async () => {
    await harness.close();
  });

  // ───────────── blobs ─────────────

  it('stores identical content once and reports every later put of it as existed', async () => {
    // Prepare
    const digest = sha256Of('hello world');

    // Act
    const first = await store.putBlob(Readable.from(['hello ', 'world']));
    const again = await store.putBlob(Readable.from(['hello world']));
    const announced = await store.putBlob(Readable.from(['hello', ' world']), { expectedDigest: digest, expectedSize: 11 });

    // Assess
    expect(first).toEqual({ digest, size: 11, existed: false });
    expect(again).toEqual({ digest, size: 11, existed: true });
    expect(announced).toEqual({ digest, size: 11, existed: true });
    expect(await listBlobs(store)).toEqual([{ digest, size: 11 }]);
  });

  it('reads a stored blob back with its size, as often as it is opened', async () => {
    // Prepare
    const { digest } = await store.putBlob(Readable.from(['some ', 'blob ', 'bytes']));

    // Act
    const stat = await store.statBlob(digest);
    const source = await store.getBlob(digest);
    const firstRead = await readText(await source.open());
    const secondRead = await readText(await source.open());

    // Assess
    expect(stat).toEqual({ size: 15 });
    expect(source.size).toBe(15);
    expect(firstRead).toBe('some blob bytes');
    expect(secondRead).toBe('some blob bytes');
  });

  it('answers statBlob with undefined and getBlob with a BlobNotFoundError naming the digest for an absent blob', async () => {
    // Prepare
    const digest = sha256Of('never stored');

    // Act
    const stat = await store.statBlob(digest);
    const get = await store.getBlob(digest).catch((error: unknown) => error);

    // Assess
    expect(stat).toBeUndefined();
    expect(get).toBeInstanceOf(BlobNotFoundError);
    expect((get as BlobNotFoundError).digest).toBe(digest);
    expect((get as Error).message).toContain(digest);
  });

  it('leaves no blob behind when the stream errors midway, rejecting with the stream error', async () => {
    // Prepare
    const cut = new Error('connection reset');

    // Act
    const put = store.putBlob(failingStream('partial content', cut));

    // Assess
    await expect(put).rejects.toBe(cut);
    expect(await store.statBlob(sha256Of('partial content'))).toBeUndefined();
    expect(await listBlobs(store)).toEqual([]);
  });

  it('refuses content that does not match the expected digest or size, leaving nothing', async () => {
    // Prepare
    const announced = sha256Of('original');

    // Act
    const wrongDigest = await store.putBlob(Readable.from(['tampered']), { expectedDigest: announced }).catch((e: unknown) => e);
    const wrongSize = await store.putBlob(Readable.from(['original']), { expectedSize: 99 }).catch((e: unknown) => e);

    // Assess
    expect(wrongDigest).toBeInstanceOf(ChecksumMismatchError);
    expect(wrongSize).toBeInstanceOf(SizeMismatchError);
    expect(await store.statBlob(sha256Of('tampered'))).toBeUndefined();
    expect(await store.statBlob(announced)).toBeUndefined();
    expect(await listBlobs(store)).toEqual([]);
  });

  it('commits content an upstream verifier of the same digest vouches for, and nothing when that verifier fails', async () => {
    // Prepare: content already streaming through a verifier of the announced digest (a
    // registry download, a bundle member), once right and once tampered
    const announced = sha256Of('original');
    const verified = (text: string) => {
      const verifier = Readable.from([text]).pipe(new HashingStream({ what: 'upstream', expected: { sha256: announced.slice(7) }, expectedSize: 8 }));
      verifier.on('error', () => undefined); // its owner listens, as the registry client and the bundle verifier do
      return verifier;
    };

    // Act
    const good = await store.putBlob(verified('original'), { expectedDigest: announced, expectedSize: 8 });
    const tampered = await store.putBlob(verified('tampere!'), { expectedDigest: sha256Of('other!!!'), expectedSize: 8 }).catch((e: unknown) => e);
    const forged = await store.putBlob(verified('forged!!'), { expectedDigest: announced, expectedSize: 8 }).then(
      () => 'stored',
      (e: unknown) => e,
    );

    // Assess
    expect(good).toMatchObject({ digest: announced, size: 8 });
    expect(tampered).toBeInstanceOf(ChecksumMismatchError);
    expect(forged).toBeInstanceOf(ChecksumMismatchError);
    expect(await listBlobs(store)).toEqual([{ digest: announced, size: 8 }]);
  });

  it('refuses tampered content announced as a blob it already holds, keeping the held blob', async () => {
    // Prepare
    const held = await store.putBlob(Readable.from(['the real layer']));

    // Act
    const tampered = store.putBlob(Readable.from(['a forged layer']), { expectedDigest: held.digest });

    // Assess
    await expect(tampered).rejects.toBeInstanceOf(ChecksumMismatchError);
    expect(await readText(await (await store.getBlob(held.digest)).open())).toBe('the real layer');
    expect(await store.statBlob(sha256Of('a forged layer'))).toBeUndefined();
  });

  it('lists every held blob once with its size', async () => {
    // Prepare
    await store.putBlob(Readable.from(['alpha']));
    await store.putBlob(Readable.from(['beta!!']));
    await store.putBlob(Readable.from(['alpha']));

    // Act
    const listed = await listBlobs(store);

    // Assess
    expect(listed.sort(byDigest)).toEqual(
      [
        { digest: sha256Of('alpha'), size: 5 },
        { digest: sha256Of('beta!!'), size: 6 },
      ].sort(byDigest),
    );
  });

  it('deletes a blob, and takes deleting one already gone as done', async () => {
    // Prepare
    const kept = await store.putBlob(Readable.from(['kept']));
    const gone = await store.putBlob(Readable.from(['gone']));

    // Act
    await store.deleteBlob(gone.digest);
    await store.deleteBlob(gone.digest);
    await store.deleteBlob(sha256Of('never there'));

    // Assess
    expect(await store.statBlob(gone.digest)).toBeUndefined();
    await expect(store.getBlob(gone.digest)).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(await listBlobs(store)).toEqual([{ digest: kept.digest, size: 4 }]);
  });

  it('refuses blob digests that are not sha256 with InvalidDigestError', async () => {
    // Prepare
    const invalid = ['sha256:../../escape', 'md5:d41d8cd98f00b204e9800998ecf8427e', `sha256:${'A'.repeat(64)}`, 'sha256:'] as Digest[];

    // Act
    const outcomes = [];
    for (const digest of invalid) {
      outcomes.push(await store.statBlob(digest).catch((e: unknown) => e));
      outcomes.push(await store.getBlob(digest).catch((e: unknown) => e));
      outcomes.push(await store.putBlob(Readable.from(['x']), { expectedDigest: digest }).catch((e: unknown) => e));
      outcomes.push(await store.deleteBlob(digest).catch((e: unknown) => e));
    }

    // Assess
    expect(outcomes).toHaveLength(16);
    for (const outcome of outcomes) expect(outcome).toBeInstanceOf(InvalidDigestError);
    expect(await listBlobs(store)).toEqual([]);
  });

  // ───────────── bundles ─────────────

  it('stages a bundle out of sight: neither listed while it is written nor once it is staged', async () => {
    // Prepare
    const seenDuringWrite: string[] = [];

    // Act: a look at the outbox with 6 MiB written (an S3 multipart upload under way)
    const closed = await store.stageBundle('ferry-1.tar', sha256Of('manifest 1'), async (out) => {
      out.write(Buffer.alloc(6 * MiB, 1));
      await sleep(10);
      for (const bundle of await store.listBundles()) seenDuringWrite.push(bundle.name);
      await new Promise<void>((resolve) => out.end('bundle', resolve));
    });
    const leftOpen = await store.stageBundle('ferry-2.tar', sha256Of('manifest 2'), async (out) => {
      out.write('second!'); // left open: the store ends it
    });

    // Assess
    expect(seenDuringWrite).toEqual([]);
    expect(closed).toEqual({ size: 6 * MiB + 6 });
    expect(leftOpen).toEqual({ size: 7 });
    expect(await store.listBundles()).toEqual([]);
  });

  it('publishes exactly the staged bytes and lists published bundles by name, with size and location', async () => {
    // Prepare: a large bundle (several S3 parts) and a small one, staged in reverse name order
    const large = Buffer.concat([Buffer.alloc(6 * MiB, 2), Buffer.from('end')]);
    await store.stageBundle('ferry-2.tar', sha256Of('manifest 2'), async (out) => {
      out.write(large.subarray(0, 3 * MiB));
      await sleep(1);
      out.end(large.subarray(3 * MiB));
    });
    await store.stageBundle('ferry-1.tar', sha256Of('manifest 1'), write('first!'));

    // Act
    const two = await store.publishBundle('ferry-2.tar', sha256Of('manifest 2'));
    const one = await store.publishBundle('ferry-1.tar', sha256Of('manifest 1'));

    // Assess
    expect(two.size).toBe(large.length);
    expect(one.size).toBe(6);
    expect(await store.listBundles()).toEqual([
      { name: 'ferry-1.tar', size: 6, location: one.location },
      { name: 'ferry-2.tar', size: large.length, location: two.location },
    ]);
    expect((await harness.readBundle('ferry-1.tar')).toString('utf8')).toBe('first!');
    expect((await harness.readBundle('ferry-2.tar')).equals(large)).toBe(true);
  });

  it('keeps a staged bundle durably: a restarted store publishes it', async () => {
    // Prepare
    await store.stageBundle('ferry-1.tar', sha256Of('manifest 1'), write('sealed before the restart'));

    // Act
    const restarted = await harness.reopen();
    const published = await restarted.publishBundle('ferry-1.tar', sha256Of('manifest 1'));

    // Assess
    expect(published.size).toBe(25);
    expect((await restarted.listBundles()).map((b) => b.name)).toEqual(['ferry-1.tar']);
    expect((await harness.readBundle('ferry-1.tar')).toString('utf8')).toBe('sealed before the restart');
  });

  it('publishes the staged copy with the given digest, not another staged under the same name', async () => {
    // Prepare: a seal that crashed before it was recorded, then the recorded one
    await store.stageBundle('ferry-1.tar', sha256Of('crashed manifest'), write('orphan of a crashed seal'));
    await store.stageBundle('ferry-1.tar', sha256Of('recorded manifest'), write('recorded'));

    // Act
    const published = await store.publishBundle('ferry-1.tar', sha256Of('recorded manifest'));

    // Assess
    expect(published.size).toBe(8);
    expect((await harness.readBundle('ferry-1.tar')).toString('utf8')).toBe('recorded');
  });

  it('answers a repeated publish the same once the staged copy is gone', async () => {
    // Prepare
    await store.stageBundle('ferry-1.tar', sha256Of('manifest 1'), write('bundle bytes'));
    const first = await store.publishBundle('ferry-1.tar', sha256Of('manifest 1'));

    // Act
    const again = await store.publishBundle('ferry-1.tar', sha256Of('manifest 1'));
    const afterRestart = await (await harness.reopen()).publishBundle('ferry-1.tar', sha256Of('manifest 1'));

    // Assess
    expect(again).toEqual(first);
    expect(afterRestart).toEqual(first);
    expect(await store.listBundles()).toEqual([{ name: 'ferry-1.tar', size: 12, location: first.location }]);
    expect((await harness.readBundle('ferry-1.tar')).toString('utf8')).toBe('bundle bytes');
  });

  it('removes the other staged copies of the name when it publishes one', async () => {
    // Prepare
    await store.stageBundle('ferry-1.tar', sha256Of('crashed manifest'), write('orphan'));
    await store.stageBundle('ferry-1.tar', sha256Of('recorded manifest'), write('recorded'));
    await store.publishBundle('ferry-1.tar', sha256Of('recorded manifest'));
    await store.deleteBundle('ferry-1.tar');

    // Act
    // (both settled before either is looked at: a rejection must never go unhandled meanwhile)
    const [orphan, recorded] = await Promise.allSettled([
      store.publishBundle('ferry-1.tar', sha256Of('crashed manifest')),
      store.publishBundle('ferry-1.tar', sha256Of('recorded manifest')),
    ]);

    // Assess
    expect(orphan.status === 'rejected' && orphan.reason).toBeInstanceOf(BundleNotStagedError);
    expect(recorded.status === 'rejected' && recorded.reason).toBeInstanceOf(BundleNotStagedError);
    expect(await store.listBundles()).toEqual([]);
  });

  it('leaves staged bundles of other names alone when it publishes, even names it is a prefix of', async () => {
    // Prepare
    await store.stageBundle('ferry-1.tar', sha256Of('manifest 1'), write('one'));
    await store.stageBundle('ferry-1.tar.1', sha256Of('manifest 1.1'), write('one point one'));
    await store.stageBundle('ferry-10.tar', sha256Of('manifest 10'), write('ten'));

    // Act
    await store.publishBundle('ferry-1.tar', sha256Of('manifest 1'));
    const prefixed = await store.publishBundle('ferry-1.tar.1', sha256Of('manifest 1.1'));
    const ten = await store.publishBundle('ferry-10.tar', sha256Of('manifest 10'));

    // Assess
    expect(prefixed.size).toBe(13);
    expect(ten.size).toBe(3);
    expect((await store.listBundles()).map((b) => b.name)).toEqual(['ferry-1.tar', 'ferry-1.tar.1', 'ferry-10.tar']);
  });

  it('fails with BundleNotStagedError when neither a staged copy with that digest nor the published bundle exists', async () => {
    // Prepare
    await store.stageBundle('ferry-2.tar', sha256Of('manifest 2'), write('staged'));

    // Act
    const neverStaged = await store.publishBundle('ferry-1.tar', sha256Of('manifest 1')).catch((e: unknown) => e);
    const otherDigest = await store.publishBundle('ferry-2.tar', sha256Of('another manifest')).catch((e: unknown) => e);
    const listedAfterFailures = await store.listBundles();
    const staged = await store.publishBundle('ferry-2.tar', sha256Of('manifest 2'));

    // Assess
    expect(neverStaged).toBeInstanceOf(BundleNotStagedError);
    expect((neverStaged as BundleNotStagedError).bundleName).toBe('ferry-1.tar');
    expect(otherDigest).toBeInstanceOf(BundleNotStagedError);
    expect(listedAfterFailures).toEqual([]);
    expect(staged.size).toBe(6);
  });

  it('leaves nothing publishable when the writer throws, rejecting with its error', async () => {
    // Prepare
    const broken = new Error('signing failed');

    // Act
    const staging = store.stageBundle('ferry-3.tar', sha256Of('manifest 3'), async (out) => {
      out.write(Buffer.alloc(1024, 1));
      await sleep(5);
      throw broken;
    });

    // Assess
    await expect(staging).rejects.toBe(broken);
    await expect(store.publishBundle('ferry-3.tar', sha256Of('manifest 3'))).rejects.toBeInstanceOf(BundleNotStagedError);
    expect(await store.listBundles()).toEqual([]);
  });

  it('replaces nothing that is published when the name is staged again', async () => {
    // Prepare
    await store.stageBundle('ferry-1.tar', sha256Of('manifest 1'), write('published bytes'));
    const published = await store.publishBundle('ferry-1.tar', sha256Of('manifest 1'));

    // Act
    await store.stageBundle('ferry-1.tar', sha256Of('another manifest'), write('other bytes, staged later'));
    await store
      .stageBundle('ferry-1.tar', sha256Of('a third manifest'), async () => {
        throw new Error('seal failed');
      })
      .catch(() => undefined);

    // Assess
    expect(await store.listBundles()).toEqual([{ name: 'ferry-1.tar', size: 15, location: published.location }]);
    expect((await harness.readBundle('ferry-1.tar')).toString('utf8')).toBe('published bytes');
  });

  it('deletes a published bundle, and deleting an absent one is no error', async () => {
    // Prepare
    await store.stageBundle('ferry-1.tar', sha256Of('manifest 1'), write('one'));
    await store.stageBundle('ferry-2.tar', sha256Of('manifest 2'), write('two'));
    await store.publishBundle('ferry-1.tar', sha256Of('manifest 1'));
    await store.publishBundle('ferry-2.tar', sha256Of('manifest 2'));

    // Act
    await store.deleteBundle('ferry-1.tar');
    await store.deleteBundle('ferry-1.tar');
    await store.deleteBundle('never-there.tar');

    // Assess
    expect((await store.listBundles()).map((b) => b.name)).toEqual(['ferry-2.tar']);
  });

  // ───────────── reports beside bundles ─────────────

  it('writes a bundle report beside the bundle, replaces it when written again, and never lists it as a bundle', async () => {
    // Prepare
    await store.stageBundle('ferry-1.tar', sha256Of('manifest 1'), write('bundle one'));
    const published = await store.publishBundle('ferry-1.tar', sha256Of('manifest 1'));

    // Act
    await store.putBundleReport('ferry-1.tar', '<p>first report</p>');
    const report = await store.putBundleReport('ferry-1.tar', '<p>report, made again</p>');

    // Assess
    expect(report.location.endsWith('ferry-1.html')).toBe(true);
    expect((await harness.readBundle('ferry-1.html')).toString('utf8')).toBe('<p>report, made again</p>');
    expect(await store.listBundles()).toEqual([{ name: 'ferry-1.tar', size: 10, location: published.location }]);
  });

  it('reads a published bundle back from its first byte, and answers BundleNotFoundError for one not published', async () => {
    // Prepare
    await store.stageBundle('ferry-1.tar', sha256Of('manifest 1'), write('published bytes'));
    await store.publishBundle('ferry-1.tar', sha256Of('manifest 1'));
    await store.stageBundle('ferry-2.tar', sha256Of('manifest 2'), write('only staged'));

    // Act
    const read = await readText(await store.openBundle('ferry-1.tar'));
    const staged = await store.openBundle('ferry-2.tar').catch((e: unknown) => e);
    const absent = await store.openBundle('never-there.tar').catch((e: unknown) => e);

    // Assess
    expect(read).toBe('published bytes');
    expect(staged).toBeInstanceOf(BundleNotFoundError);
    expect(absent).toBeInstanceOf(BundleNotFoundError);
    expect((absent as Error).message).toContain('never-there.tar');
  });

  it('refuses report and read names that could leave the outbox with InvalidBundleNameError', async () => {
    // Act
    const outcomes = [];
    for (const name of ['../escape.tar', 'a/b.tar', '.hidden']) {
      outcomes.push(await store.putBundleReport(name, '<p>x</p>').catch((e: unknown) => e));
      outcomes.push(await store.openBundle(name).catch((e: unknown) => e));
    }

    // Assess
    for (const outcome of outcomes) expect(outcome).toBeInstanceOf(InvalidBundleNameError);
  });

  it('refuses bundle names that could leave the outbox with InvalidBundleNameError, before writing', async () => {
    // Prepare
    const names = ['../escape.tar', 'a/b.tar', 'a\\b.tar', '..', '.hidden', '', 'bell\u0007.tar', 'new\nline.tar'];
    let writes = 0;
    const writer = async (out: Writable) => {
      writes++;
      out.end('x');
    };

    // Act
    const outcomes = [];
    for (const name of names) {
      outcomes.push(await store.stageBundle(name, sha256Of('manifest'), writer).catch((e: unknown) => e));
      outcomes.push(await store.publishBundle(name, sha256Of('manifest')).catch((e: unknown) => e));
      outcomes.push(await store.deleteBundle(name).catch((e: unknown) => e));
    }

    // Assess
    expect(outcomes).toHaveLength(names.length * 3);
    for (const outcome of outcomes) expect(outcome).toBeInstanceOf(InvalidBundleNameError);
    expect(writes).toBe(0);
    expect(await store.listBundles()).toEqual([]);
  });

  it('refuses a bundle digest that is not sha256 with InvalidDigestError, before writing', async () => {
    // Prepare
    let writes = 0;
    const writer = async (out: Writable) => {
      writes++;
      out.end('x');
    };

    // Act
    const staging = await store.stageBundle('ferry-1.tar', 'sha256:../../escape' as Digest, writer).catch((e: unknown) => e);
    const publishing = await store.publishBundle('ferry-1.tar', 'md5:d41d8cd98f00b204e9800998ecf8427e' as Digest).catch((e: unknown) => e);

    // Assess
    expect(staging).toBeInstanceOf(InvalidDigestError);
    expect(publishing).toBeInstanceOf(InvalidDigestError);
    expect(writes).toBe(0);
    expect(await store.listBundles()).toEqual([]);
  });
}

/** A bundle writer that writes `text` and ends the stream. */
function write(text: string): (out: Writable) => Promise<void> {
  return async (out) => {
    await new Promise<void>((resolve) => out.end(text, resolve));
  };
}

/** A stream that yields `before` and then fails. */
export function failingStream(before: string, error: Error): Readable {
  return new Readable({
    read() {
      if (before !== '') {
        this.push(before);
        before = '';
      } else {
        this.destroy(error);
      }
    },
  });
}

async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function listBlobs(store: Required<Pick<ObjectStore, 'listBlobs'>>): Promise<{ digest: Digest; size: number }[]> {
  const listed: { digest: Digest; size: number }[] = [];
  for await (const blob of store.listBlobs()) listed.push(blob);
  return listed;
}

function byDigest(a: { digest: string }, b: { digest: string }): number {
  return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
}
