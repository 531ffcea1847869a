/**
 * Uploading while verifying. The verify pass reads every byte of a bundle and the upload
 * reads it again, and the upload is bounded by the registry: one after the other, an image
 * layer costs its hash plus its upload. So a big image layer goes into a registry upload
 * session *while* the verify pass hashes it, and the session is committed (the closing PUT
 * `?digest=`) only in the apply pass — after the signature, chain position, every digest
 * and the plan against the target checked out, exactly as before.
 *
 * What the registry sees before that: an upload session (zot's sync stages the same way).
 * No pull, tag list, catalog or HEAD shows its bytes; the registry checks the digest again
 * before it links them. A refusal, a failed apply or any error cancels every session still
 * open (DELETE), and a killed import leaves sessions the registry purges on its own. A
 * target with `uploadWhileVerifying: false` gets nothing before the whole bundle verified.
 *
 * Staging is an optimisation only: a blob that could not be staged (the registry said no,
 * the network dropped) or whose commit fails is uploaded after verifying, as without it.
 */
import type { BundleManifest, ImageBundleEntry } from '../../bundle/index.ts';
import { forEachLimited } from '../../concurrency.ts';
import type { Digest } from '../../digest.ts';
import { faultPoint } from '../../fault-points.ts';
import type { TargetRegistry } from '../formats/index.ts';
import type { Log } from '../log.ts';
import type { ImportState, StagedBlob } from '../ports/index.ts';

/**
 * Smaller blobs are uploaded after verifying, with the apply pass's concurrency: their hash
 * takes less than the session's extra round trip, and the verify pass (one tar, read in
 * order) would upload them one at a time.
 */
export const STAGE_MIN_BYTES = 16 * 1024 * 1024;

interface Destination {
  target: TargetRegistry;
  /** The image name whose repository the session belongs to: the first entry using the blob. */
  name: string;
}

interface Session extends Destination {
  staged: StagedBlob;
  committing?: Promise<string | undefined>;
}

export class StagedUploads {
  readonly #log: Log;
  readonly #state: ImportState;
  readonly #minBytes: number;
  /** The bundle being verified: its big image blobs, and where each would be staged. */
  #wanted = new Map<Digest, Destination>();
  readonly #sessions = new Map<string, Session>();

  constructor(options: { log: Log; state: ImportState; minBytes?: number | undefined }) {
    this.#log = options.log;
    this.#state = options.state;
    this.#minBytes = options.minBytes ?? STAGE_MIN_BYTES;
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

  /** For the verify pass: where to hand a blob's chunks as they are hashed, if it is to be staged. */
  relayFor(digest: Digest, size: number): ((chunks: AsyncIterable<Buffer>) => Promise<void>) | undefined {
    const destination = this.#wanted.get(digest);
    if (destination === undefined) return undefined;
    this.#wanted.delete(digest);
    return (chunks) => this.#stage(destination, digest, size, chunks);
  }

  /**
   * Streams a blob of the bundle being verified into an upload session. `chunks` are the
   * verify pass's own: whatever this leaves unread the verifier still hashes, and a
   * mismatch is the verifier's to report (the session is cancelled with the rest). Never throws.
   */
  async #stage({ target, name }: Destination, digest: Digest, size: number, chunks: AsyncIterable<Buffer>): Promise<void> {
    try {
      // Already there (a run again), or mountable from where an earlier import put it.
      if ((await target.registry.headBlob(name, digest)) !== undefined) return;
      if ((await this.#state.blobLocation?.(target.key, digest)) !== undefined) return;
      const staged = await target.registry.stageBlob!(name, digest, size, chunks);
      this.#sessions.set(sessionKey(target.key, digest), { target, name, staged });
      this.#log.debug(`${name}@${digest}: uploaded while verifying, to be committed once the bundle checked out`, { digest });
      faultPoint('import:blob-staged');
    } catch (error) {
      this.#log.debug(`${name}@${digest}: not uploaded while verifying (${(error as Error).message}); it is uploaded after`, { digest });
    }
  }

  /** Commits a staged blob once; the image name it is in now, undefined if none (or the commit failed). */
  commit(registryKey: string, digest: Digest): Promise<string | undefined> {
    const session = this.#sessions.get(sessionKey(registryKey, digest));
    if (session === undefined) return Promise.resolve(undefined);
    session.committing ??= session.staged.commit().then(
      () => session.name,
      async (error: unknown) => {
        this.#log.warn(`${session.name}@${digest}: the upload made while verifying could not be committed (${(error as Error).message}); uploading it again`, { digest });
        await session.staged.cancel();
        return undefined;
      },
    );
    return session.committing;
  }

  /** Cancels every session not committed: after the batch, whatever became of it. */
  async cancelUncommitted(): Promise<void> {
    const open = [...this.#sessions.values()].filter((s) => s.committing === undefined);
    this.#sessions.clear();
    this.#wanted.clear();
    await forEachLimited(open, 4, (s) => s.staged.cancel());
    if (open.length > 0) this.#log.debug(`cancelled ${open.length} upload(s) made while verifying and never committed`);
  }
}

function sessionKey(registryKey: string, digest: Digest): string {
  return `${registryKey}\n${digest}`;
}
