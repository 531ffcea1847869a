/**
 * The format seam. Each Nexus format Ferry carries (raw, docker, and the package formats
 * maven2, npm, pypi, nuget, helm built on formats/package) is one module implementing {@link FormatModule}: how a repository of that
 * format is discovered into copy tasks, how a task is staged, what its bundle entry looks
 * like, and how the importer checks the target for its entries and applies them. Scan,
 * seal and the importer know no format by name: they look the module up by repository
 * format, task kind or entry kind (formats/index.ts).
 */
import type { Readable } from 'node:stream';
import type { BundleEntry, BundleManifest } from '../../bundle/index.ts';
import type { Digest } from '../../digest.ts';
import type { Log } from '../log.ts';
import type { EntryRefusal } from '../import/errors.ts';
import type { ResendSource } from '../receipts/codec.ts';
import type {
  ArtifactSource,
  ArtifactTarget,
  BlobCopyTask,
  BlobSource,
  Clock,
  CopyTask,
  ExportState,
  ImageRegistry,
  ImportState,
  ObjectStore,
  PendingEntry,
  SourceAsset,
  SourceComponent,
  StagedEntry,
  TargetRepository,
  TaskQueue,
} from '../ports/index.ts';
import type { ScanRepository } from './repositories.ts';

export type CopyOutcome =
  /** New bytes were stored and a pending entry recorded. */
  | { status: 'staged'; bytes: number }
  /** The bytes were already in the store (another repository or path had them); entry recorded. */
  | { status: 'deduplicated'; bytes: number }
  /** This exact content is already pending or sealed, or travels with another entry: nothing to do. */
  | { status: 'known' };

/** What a format's export side may use. */
export interface ExportDeps {
  source: ArtifactSource;
  store: ObjectStore;
  state: ExportState;
  queue: TaskQueue;
  clock: Clock;
  log: Log;
  /** Every configured repository (a task names its own). */
  repositories: readonly ScanRepository[];
  /** The registry serving a repository whose content lives in one (docker), if configured. */
  registryFor?: ((repository: string) => ImageRegistry) | undefined;
}

/** A target registry endpoint, with a stable key for the importer's record of blob locations. */
export interface TargetRegistry {
  key: string;
  registry: ImageRegistry;
  /**
   * Stream big blobs into upload sessions while their bundle is verified, committed only
   * once it all checked out (see core/import/staged-uploads.ts). Default true; false
   * sends no byte of a bundle to the registry before the whole bundle verified.
   */
  uploadWhileVerifying?: boolean | undefined;
}

/** What a format's import side may use. */
export interface ImportDeps {
  target: ArtifactTarget;
  held: ObjectStore;
  state: ImportState;
  log: Log;
  registryFor(targetRepository: string): TargetRegistry | undefined;
  /** Whether a blob is at hand for an upload: held here, in a bundle of this import, or (for a verify-only run) in the bundles read. */
  available(digest: Digest): Promise<boolean>;
  /** Opens a blob at hand: held here, or read again by range from a verified bundle of this import. */
  blob(digest: Digest): Promise<BlobSource>;
  /** How long to wait for an index the target rebuilds after a write (helm's index.yaml) to show it; default 60 s. */
  indexWaitMs?: number | undefined;
  /**
   * Commits the upload session a blob was streamed into while its bundle verified, once;
   * the image name of the registry it is now in, or undefined when none was staged (or the
   * commit failed: upload it as usual).
   */
  commitStaged?(registryKey: string, digest: Digest): Promise<string | undefined>;
}

/** One entry of a bundle, with where it goes on this target. */
export interface PlannedEntry<E extends BundleEntry = BundleEntry> {
  index: number;
  entry: E;
  /** The target repository after the import's repository map. */
  repository: string;
  /** `raw-a/dir/x.bin`, `docker-hosted/team/app:1.0`: the entry in words. */
  label: string;
  /** The repository as the target describes it (exists, hosted, right format: already checked). */
  target: TargetRepository;
  /** The importer recorded this entry as done in an earlier, interrupted run. */
  done: boolean;
}

/** A format's plan for its entries of one bundle: steps only it reads back, what it refuses, what it lacks. */
export interface FormatPlan {
  steps: unknown[];
  refusals: EntryRefusal[];
  /** Blobs neither at hand nor on the target, with the entry (index, label) that needs each. */
  missing: { digest: Digest; index: number; label: string }[];
}

/** One tombstone's fate on this target: `done` when an earlier run applied it (see its recorded outcome). */
export interface DeletionDecision {
  index: number;
  label: string;
  action: 'delete' | 'keep' | 'done';
  reason?: string | undefined;
}

export interface FormatModule {
  /** The Nexus format of the repositories this module carries (`raw`, `docker`, …). */
  readonly format: string;
  /** The bundle entry kind it writes and reads (`raw`, `image`, …). */
  readonly entryKind: BundleEntry['kind'];
  /** The copy task kinds it stages. */
  readonly taskKinds: readonly CopyTask['kind'][];

  // ── export side
  /**
   * The task for one asset the source lists, or undefined when the repository does not
   * carry it. `component` is the asset's component when the caller has it (a scan, a
   * component webhook), undefined for a webhook that names only the asset.
   */
  taskForAsset(repository: ScanRepository, asset: SourceAsset, component?: SourceComponent): CopyTask | undefined;
  /** Whether this repository is discovered by the format itself (a plain registry's catalog) rather than the components API. */
  discoversItself?(repository: ScanRepository): boolean;
  /** Its own discovery: queues tasks, returns what it saw. */
  discover?(deps: Pick<ExportDeps, 'state' | 'queue' | 'registryFor'>, repository: ScanRepository): Promise<{ components: number; queued: number }>;
  /** Stages one task: fetches what the far side lacks, records a pending entry. */
  copy(deps: ExportDeps, task: CopyTask): Promise<CopyOutcome>;
  /** Fetches one blob again for a resend request, from where an entry of this format had it. */
  fetchBlob(deps: ExportDeps, task: BlobCopyTask, consume: (body: Readable) => Promise<{ size: number }>): Promise<{ size: number }>;
  /** Every blob a staged entry needs, its own first. */
  blobsOf(entry: StagedEntry): { digest: Digest; size: number }[];
  /** The bundle entry of a pending entry. */
  bundleEntry(entry: PendingEntry): BundleEntry;
  /** The descriptors it adds to the bundle's OCI `index.json` (images, so standard tools read them). */
  indexDescriptors?(entry: BundleEntry): object[];

  // ── import side
  /**
   * Blobs of the entry the target itself keeps where a later import finds them again (an
   * image's layers and configs, mounted from where Ferry put them): the importer uploads these
   * straight from the bundle and keeps no copy of its own. Every other blob is held, because
   * later bundles list what was shipped before as required rather than shipping it again.
   */
  keptByTarget?(entry: BundleEntry): Digest[];
  /** Decides each entry's step against the target, before any write of the bundle. */
  plan(deps: ImportDeps, manifest: BundleManifest, entries: PlannedEntry[], bundleDigest: Digest): Promise<FormatPlan>;
  /** Applies its planned steps; returns the entries that could not be applied (the others were). */
  apply(
    deps: ImportDeps,
    manifest: BundleManifest,
    bundleDigest: Digest,
    steps: unknown[],
    /** `progress(index)` as each entry is done (applied, present, or failed), for the importer's progress display. */
    options: { concurrency: number; progress: (index: number) => void },
  ): Promise<{ index: number; entry: string; reason: string }[]>;
  /** The format the entry's target repository must have, when it is not this module's (a tombstone's: what it removes). */
  targetFormat?(entry: BundleEntry): string;
  /** Deletions the planned steps decide (tombstones): deleted or kept, and why, for the receipt and `ferry verify`. */
  decisions?(steps: unknown[]): DeletionDecision[];
  /** Where the entry landed, for receipts (`/dir/x.bin`, `/team/app:1.0`). */
  receiptPath(entry: BundleEntry): string;
  /** Where on the source one blob of the entry can be fetched again, for a resend request. */
  resendSource(entry: BundleEntry, digest: Digest): ResendSource;
  /** The entry's component in the words of its format (`org.example:widget:1.0.0`, `team/app:1.0`), for `ferry inspect`. */
  coordinates(entry: BundleEntry): string;
}
