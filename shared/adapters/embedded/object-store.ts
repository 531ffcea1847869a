/**
 * The embedded object store: a directory on the local disk.
 *
 * ```
 * <root>/blobs/sha256/<hex>                    content-addressed blobs
 * <root>/bundles/<name>                        published bundles (the outbox)
 * <root>/bundles/<name without .tar>.html      each one's report (derived, not listed as a bundle)
 * <root>/bundles/.ferry-staged/<name>.<hex>    sealed bundles not yet published
 * <root>/tmp/<random>                          writes in progress (same file system, so the commit is a rename)
 * ```
 *
 * Bundles may live elsewhere (`bundlesDir`, e.g. the directory ops copy to media from);
 * their writes in progress then sit in `<bundlesDir>/.ferry-tmp/` so every commit is still
 * a rename within one file system. Staged bundles carry their manifest digest in the file
 * name, so publishing moves exactly the bundle the seal recorded.
 *
 * Every write goes to `tmp/`, is fsynced, then renamed into place, and the directory is
 * fsynced: a reader (or a process restarted after a crash) sees a complete, verified file
 * or nothing.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { digestHex, isDigest, type Digest } from '../../digest.ts';
import type { BlobSource, ObjectStore } from '../../core/ports/index.ts';
import { BlobNotFoundError, BundleNotFoundError, BundleNotStagedError, InvalidDigestError } from '../../core/ports/errors.ts';
import { isReportFileName, reportFileName } from '../../bundle/report/name.ts';
import { DurableFileStream, readFileStream } from '../../file-streams.ts';
import { blobVerifier, checkBundleName } from '../../core/ports/object-store-rules.ts';
import { byCodeUnit } from '../../units.ts';

export interface DirObjectStoreOptions {
  /** Where sealed bundles go, instead of `<root>/bundles`. */
  bundlesDir?: string;
  /**
   * Temp files older than this are removed on first use (leftovers of a crashed write).
   * Younger ones are left alone because another process sharing the store may still be
   * writing them; a leftover only costs disk space until the next start. Default: 1 hour.
   */
  staleTmpMs?: number;
}

export class DirObjectStore implements ObjectStore {
  readonly root: string;
  readonly #blobDir: string;
  readonly #bundleDir: string;
  readonly #tmpDir: string;
  readonly #bundleTmpDir: string;
  readonly #staleTmpMs: number;
  #ready: Promise<void> | undefined;

  constructor(root: string, options: DirObjectStoreOptions = {}) {
    this.root = path.resolve(root);
    this.#blobDir = path.join(this.root, 'blobs', 'sha256');
    this.#tmpDir = path.join(this.root, 'tmp');
    if (options.bundlesDir === undefined) {
      this.#bundleDir = path.join(this.root, 'bundles');
      this.#bundleTmpDir = this.#tmpDir;
    } else {
      this.#bundleDir = path.resolve(options.bundlesDir);
      this.#bundleTmpDir = path.join(this.#bundleDir, '.ferry-tmp');
    }
    this.#staleTmpMs = options.staleTmpMs ?? 60 * 60 * 1000;
  }

  /** Absolute path a blob is (or would be) stored at. */
  blobPath(digest: Digest): string {
    if (!isDigest(digest)) throw new InvalidDigestError('blob digest', digest);
    return path.join(this.#blobDir, digestHex(digest));
  }

  async statBlob(digest: Digest): Promise<{ size: number } | undefined> {
    const file = this.blobPath(digest);
    const info = await statOrUndefined(file);
    return info === undefined ? undefined : { size: info.size };
  }

  async putBlob(
    content: Readable,
    options: { expectedDigest?: Digest; expectedSize?: number } = {},
  ): Promise<{ digest: Digest; size: number; existed: boolean }> {
    const hasher = blobVerifier(content, options);
    await this.#init();
    const tmp = this.#tmpPath(this.#tmpDir);
    try {
      await pipeline(content, hasher, new DurableFileStream(tmp));
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    const digest = hasher.digest;
    const size = hasher.size;
    const target = this.blobPath(digest);
    try {
      if ((await statOrUndefined(target)) !== undefined) {
        await rm(tmp, { force: true });
        return { digest, size, existed: true };
      }
      // Two writers of the same content may both get here; the rename is atomic and the
      // bytes are identical, so the loser merely overwrites an equal file.
      await rename(tmp, target);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    await fsyncDir(this.#blobDir);
    return { digest, size, existed: false };
  }

  async getBlob(digest: Digest): Promise<BlobSource> {
    const file = this.blobPath(digest);
    const info = await statOrUndefined(file);
    if (info === undefined) throw new BlobNotFoundError(digest, file);
    // Open eagerly so a blob removed since is reported as missing, not as a late stream error.
    const opened = () =>
      open(file, 'r').catch((error: unknown) => {
        if (isNotFound(error)) throw new BlobNotFoundError(digest, file, { cause: error });
        throw error;
      });
    return {
      size: info.size,
      open: async () => readFileStream(file, { fd: await opened() }),
      openRange: async (start, end) => readFileStream(file, { fd: await opened(), start, end }),
    };
  }

  async deleteBlob(digest: Digest): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
    await fsyncDir(this.#blobDir);
  }

  async stageBundle(name: string, digest: Digest, write: (out: Writable) => Promise<void>): Promise<{ size: number }> {
    const staged = this.#stagedPath(name, digest);
    await this.#init();
    const tmp = this.#tmpPath(this.#bundleTmpDir);
    const out = new DurableFileStream(tmp);
    // Capture errors from the moment the stream exists, so none goes unhandled while `write` runs.
    let streamError: unknown;
    out.on('error', (error) => {
      streamError ??= error;
    });
    try {
      await write(out);
      if (streamError !== undefined) throw streamError;
      await closeWritable(out);
      if (streamError !== undefined) throw streamError;
      const { size } = await stat(tmp);
      await rename(tmp, staged);
      await fsyncDir(this.#stagedDir);
      return { size };
    } catch (error) {
      if (!out.closed) {
        out.destroy();
        await once(out, 'close').catch(() => undefined);
      }
      await rm(tmp, { force: true });
      throw error;
    }
  }

  async publishBundle(name: string, digest: Digest): Promise<{ size: number; location: string }> {
    const location = this.#bundlePath(name);
    const staged = this.#stagedPath(name, digest);
    await this.#init();
    if ((await statOrUndefined(staged)) !== undefined) {
      await rename(staged, location);
      await fsyncDir(this.#bundleDir);
      await fsyncDir(this.#stagedDir);
    }
    const published = await statOrUndefined(location);
    if (published === undefined) throw new BundleNotStagedError(name, digest, `${staged} and ${location}`);
    // Copies of this name from seals that crashed before they were recorded: never published.
    // Only `<name>.<hex>`: another bundle's name may begin with this one's.
    for (const other of await readdir(this.#stagedDir)) {
      if (other.startsWith(`${name}.`) && isDigest(`sha256:${other.slice(name.length + 1)}`)) await rm(path.join(this.#stagedDir, other), { force: true });
    }
    return { size: published.size, location };
  }

  async deleteBundle(name: string): Promise<void> {
    const location = this.#bundlePath(name);
    await rm(location, { force: true });
    await fsyncDir(this.#bundleDir);
  }

  async putBundleReport(name: string, html: string): Promise<{ location: string }> {
    const location = this.#bundlePath(reportFileName(checkBundleName(name)));
    await this.#init();
    const tmp = this.#tmpPath(this.#bundleTmpDir);
    try {
      await writeFile(tmp, html, { flag: 'wx', flush: true });
      await rename(tmp, location);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    await fsyncDir(this.#bundleDir);
    return { location };
  }

  async openBundle(name: string): Promise<Readable> {
    const location = this.#bundlePath(name);
    const handle = await open(location, 'r').catch((error: unknown) => {
      if (isNotFound(error)) throw new BundleNotFoundError(name, location, { cause: error });
      throw error;
    });
    return readFileStream(location, { fd: handle });
  }

  async listBundles(): Promise<{ name: string; size: number; location: string }[]> {
    let names: string[];
    try {
      names = await readdir(this.#bundleDir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const bundles: { name: string; size: number; location: string }[] = [];
    for (const name of names.filter((n) => !isReportFileName(n)).sort(byCodeUnit)) {
      const location = path.join(this.#bundleDir, name);
      const info = await statOrUndefined(location);
      if (info?.isFile()) bundles.push({ name, size: info.size, location });
    }
    return bundles;
  }

  /** Every committed blob, in digest order (temp files live elsewhere, so never half-written ones). */
  async *listBlobs(): AsyncIterable<{ digest: Digest; size: number }> {
    let names: string[];
    try {
      names = await readdir(this.#blobDir);
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    for (const name of names.sort()) {
      const digest = `sha256:${name}`;
      if (!isDigest(digest)) continue;
      const info = await statOrUndefined(path.join(this.#blobDir, name));
      if (info?.isFile()) yield { digest, size: info.size };
    }
  }

  #bundlePath(name: string): string {
    return path.join(this.#bundleDir, checkBundleName(name));
  }

  get #stagedDir(): string {
    return path.join(this.#bundleDir, '.ferry-staged');
  }

  #stagedPath(name: string, digest: Digest): string {
    this.#bundlePath(name); // the same name rules
    if (!isDigest(digest)) throw new InvalidDigestError('bundle digest', digest);
    return path.join(this.#stagedDir, `${name}.${digestHex(digest)}`);
  }

  #tmpPath(dir: string): string {
    return path.join(dir, `${randomUUID()}.part`);
  }

  /** Creates the layout and removes stale temp files, once per instance. */
  #init(): Promise<void> {
    this.#ready ??= (async () => {
      await mkdir(this.#blobDir, { recursive: true });
      await mkdir(this.#bundleDir, { recursive: true });
      await mkdir(this.#stagedDir, { recursive: true });
      const cutoff = Date.now() - this.#staleTmpMs;
      for (const dir of new Set([this.#tmpDir, this.#bundleTmpDir])) {
        await mkdir(dir, { recursive: true });
        for (const name of await readdir(dir)) {
          const file = path.join(dir, name);
          const info = await statOrUndefined(file);
          if (info !== undefined && info.mtimeMs <= cutoff) await rm(file, { force: true, recursive: true });
        }
      }
    })().catch((error: unknown) => {
      this.#ready = undefined; // let the next call try again
      throw error;
    });
    return this.#ready;
  }
}

/** Ends `out` if the writer did not, and waits until its file descriptor is flushed and closed. */
async function closeWritable(out: Writable): Promise<void> {
  if (out.closed) return;
  const closed = once(out, 'close');
  if (!out.writableEnded) out.end();
  await closed;
}

async function statOrUndefined(file: string) {
  try {
    return await stat(file);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** Makes a rename durable. Best effort: some platforms (Windows) cannot open a directory. */
async function fsyncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Not supported here; the file itself is already fsynced.
  } finally {
    await handle?.close();
  }
}
