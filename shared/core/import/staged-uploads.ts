/**
 * Uploading while verifying. The verify pass reads every byte of a bundle and the upload
 * reads it again, and the upload is bounded by the registry: one after the other, an image
 * layer costs its hash plus its upload. So as the verify pass reaches a big image layer, its
 * upload into a registry upload session starts from a ranged read of the bundle (up to
 * `concurrency` at once) while the verifier goes on hashing; and the session is committed
 * (the closing PUT `?digest=`) only in the apply pass — after the signature, chain position,
 * every digest and the plan against the target checked out, exactly as before. The registry
 * checks the digest again at the commit, so a bundle changed between the two reads cannot
 * land (the commit fails, and the upload after verifying refuses it by name).
 *
 * What the registry sees before that: an upload session (zot's sync stages the same way).
 * No pull, tag list, catalog or HEAD shows its bytes. A refusal, a failed apply or any error
 * cancels every session still open (DELETE), and a killed import leaves sessions the
 * registry purges on its own. A target with `uploadWhileVerifying: false` gets nothing
 * before the whole bundle verified.
 *
 * Staging is an optimisation only: a blob that could not be staged (the registry said no,
 * the network dropped) or whose commit fails is uploaded after verifying, as without it.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import type { BundleManifest, ImageBundleEntry } from '../../bundle/index.ts';
import { forEachLimited } from '../../concurrency.ts';
import type { Digest } from '../../digest.ts';
import { faultPoint } from '../../fault-points.ts';
import type { TargetRegistry } from '../formats/index.ts';
import type { Log } from '../log.ts';
import type { ImportState, StagedBlob } from '../ports/index.ts';
import type { RangeReader } from './at-hand.ts';

/** Smaller blobs are uploaded after verifying: their hash takes less than the session's extra round trip. */
export const STAGE_MIN_BYTES = 16 * 1024 * 1024;

interface Destination {
  target: TargetRegistry;
  /** The image name whose repository the session belongs to: the first entry using the blob. */
  name: string;
}

interface Session extends Destination {
  /** The upload in flight (a ranged read of the bundle), then its session; undefined if it failed. */
  staging: Promise<StagedBlob | undefined>;
  committing?: Promise<string | undefined>;
}

export class StagedUploads {
  readonly #log: Log;
  readonly #state: ImportState;
  readonly #minBytes: number;
  /** The bundle being verified: its big image blobs, and where each would be staged. */
  #wanted = new Map<Digest, Destination>();
  readonly #sessions = new Map<string, Session>();

  readonly #limit: LimitFunction;
  #closed = false;

  constructor(options: { log: Log; state: ImportState; minBytes?: number | undefined; concurrency?: number | undefined }) {
    this.#log = options.log;
    this.#state = options.state;
    this.#minBytes = options.minBytes ?? STAGE_MIN_BYTES;
    this.#limit = pLimit(options.concurrency ?? 4);
  }

  /**
   * For a bundle whose signature and chain position just checked out: its blobs worth
   * staging, each with the registry and image name of the first entry that uses it.
   */
  plan(manifest: BundleManifest, targetRepository: (name: string) => string, registryFor: (repository: string) => TargetRegistry | undefined): void {
    const included = new Map(manifest.blobs.included.map((b) => [b.digest, b.size]));
    this.#wanted = new Map();
    for (const entry of manifest.entries) {
      if (entry.kind !== 'image') continue;
      const target = registryFor(targetRepository(entry.target.repository));
      if (target === undefined || target.uploadWhileVerifying === false || target.registry.stageBlob === undefined) continue;
      for (const blob of (entry as ImageBundleEntry).blobs) {
        if ((included.get(blob.digest) ?? 0) < this.#minBytes || this.#wanted.has(blob.digest)) continue;
        if (!this.#sessions.has(sessionKey(target.key, blob.digest))) this.#wanted.set(blob.digest, { target, name: entry.target.name });
      }
    }
  }

  /**
   * For the verify pass, as it reaches a blob: its upload starts from a ranged read of the
   * bundle, up to `concurrency` at once, while the verifier goes on hashing. The registry
   * checks the digest at commit, and the commit waits for the whole batch to verify.
   */
  startFrom(blob: { digest: Digest; size: number; offset: number }, bundle: RangeReader): void {
    const destination = this.#wanted.get(blob.digest);
    if (destination === undefined) return;
    this.#wanted.delete(blob.digest);
    const staging = this.#limit(() => this.#stage(destination, blob, bundle));
    this.#sessions.set(sessionKey(destination.target.key, blob.digest), { ...destination, staging });
  }

  /** Never throws: a blob not staged is uploaded after verifying. */
  async #stage({ target, name }: Destination, blob: { digest: Digest; size: number; offset: number }, bundle: RangeReader): Promise<StagedBlob | undefined> {
    const { digest, size } = blob;
    try {
      // Already there (a run again), or mountable from where an earlier import put it.
      if ((await target.registry.headBlob(name, digest)) !== undefined) return undefined;
      if ((await this.#state.blobLocation?.(target.key, digest)) !== undefined) return undefined;
      if (this.#closed) return undefined;
      this.#log.debug(`${name}@${digest}: uploading while verifying`, { digest });
      const range = await bundle.openRange(blob.offset, size);
      const staged = await target.registry.stageBlob!(name, digest, size, range as AsyncIterable<Buffer>).finally(() => range.destroy());
      if (this.#closed) {
        await staged.cancel();
        return undefined;
      }
      this.#log.debug(`${name}@${digest}: uploaded while verifying, to be committed once the bundle checked out`, { digest });
      faultPoint('import:blob-staged');
      return staged;
    } catch (error) {
      this.#log.debug(`${name}@${digest}: not uploaded while verifying (${(error as Error).message}); it is uploaded after`, { digest });
      return undefined;
    }
  }

  /** Commits a staged blob once (its upload finished first); the image name it is in now, undefined if none (or the commit failed). */
  commit(registryKey: string, digest: Digest): Promise<string | undefined> {
    const session = this.#sessions.get(sessionKey(registryKey, digest));
    if (session === undefined) return Promise.resolve(undefined);
    session.committing ??= session.staging.then(async (staged) => {
      if (staged === undefined) return undefined;
      try {
        await staged.commit();
      } catch (error) {
        this.#log.warn(`${session.name}@${digest}: the upload made while verifying could not be committed (${(error as Error).message}); uploading it again`, { digest });
        await staged.cancel();
        return undefined;
      }
      // In the repository now, before the entry is recorded: a run again finds it by HEAD.
      faultPoint('import:staged-committed');
      return session.name;
    });
    return session.committing;
  }

  /** Cancels every session not committed, once its upload is done: after the batch, whatever became of it. */
  async cancelUncommitted(): Promise<void> {
    const open = [...this.#sessions.values()].filter((s) => s.committing === undefined);
    this.#sessions.clear();
    this.#wanted.clear();
    // Uploads still queued start no more; those in flight finish, then are cancelled (a
    // registry still writing an aborted PATCH can outlive the DELETE that follows it).
    this.#closed = true;
    const staged = (await Promise.all(open.map((s) => s.staging))).filter((s): s is StagedBlob => s !== undefined);
    await forEachLimited(staged, 4, (s) => s.cancel());
    if (staged.length > 0) this.#log.debug(`cancelled ${staged.length} upload(s) made while verifying and never committed`);
  }
}

function sessionKey(registryKey: string, digest: Digest): string {
  return `${registryKey}\n${digest}`;
}
