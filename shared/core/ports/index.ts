/**
 * The ports the core depends on. The core never imports an SDK: the embedded default
 * (a directory, a SQLite file, an in-process worker pool) and the AWS adapters (S3,
 * DynamoDB, SQS) both implement these, and core tests pass in-memory fakes.
 */
import type { Readable, Writable } from 'node:stream';
import type { Digest } from '../../digest.ts';
// Referenced by the TSDoc below: the errors each port promises.
export type { BlobNotFoundError, BundleNotFoundError, BundleNotStagedError, EntryNotPendingError, SequenceConflictError } from './errors.ts';

// ───────────────────────────── domain records ─────────────────────────────

/** Checksums a source publishes for an asset, lowercase hex. sha256 is not always there. */
export interface Checksums {
  sha256?: string | undefined;
  sha1?: string | undefined;
  md5?: string | undefined;
  sha512?: string | undefined;
}

/**
 * One unit of copy work: one artifact (or, later, one image tag). Idempotent by `id`:
 * the same asset content always yields the same id, so duplicates from re-scans and
 * webhooks collapse.
 */
export interface RawCopyTask {
  kind: 'raw';
  id: string;
  sourceRepository: string;
  /** Asset path as Nexus reports it, normalised to start with `/`. */
  path: string;
  targetRepository: string;
  checksums: Checksums;
  size?: number | undefined;
  lastModified?: string | undefined;
}

/** One image tag of a docker repository (a Nexus docker repository or any OCI registry). */
export interface ImageCopyTask {
  kind: 'image';
  id: string;
  sourceRepository: string;
  /** Image name within the registry, e.g. `team/app`. */
  name: string;
  tag: string;
  targetRepository: string;
  /** The manifest digest the scan saw, when the source published it (dedupe, tag moves). */
  digest?: string | undefined;
}

/**
 * One blob fetched again for a resend request, when this side does not stage it (an image
 * layer skipped because a receipt said the far side had it). From an image of a docker
 * repository (`name`) or an asset of a raw repository (`path`); the bytes must hash to
 * `digest`.
 */
export interface BlobCopyTask {
  kind: 'blob';
  id: string;
  sourceRepository: string;
  digest: Digest;
  size: number;
  name?: string | undefined;
  path?: string | undefined;
}

/**
 * The Nexus formats Ferry carries as packages: each asset a file with coordinates, staged
 * like a raw asset and written back through the format's own upload (formats/package).
 */
export const PACKAGE_FORMATS = ['maven2', 'npm', 'pypi', 'nuget', 'helm'] as const;
export type PackageFormat = (typeof PACKAGE_FORMATS)[number];

/** A component as Nexus names it: `group` is a Maven groupId or an npm scope (without `@`), else null. */
export interface ComponentCoordinates {
  group: string | null;
  name: string;
  version: string;
}

/** One asset of a package repository (maven2, npm, pypi, nuget, helm): the task kind is its format. */
export interface PackageCopyTask {
  kind: PackageFormat;
  id: string;
  sourceRepository: string;
  /** Asset path as Nexus reports it, normalised to start with `/`. */
  path: string;
  targetRepository: string;
  checksums: Checksums;
  size?: number | undefined;
  lastModified?: string | undefined;
  component: ComponentCoordinates;
  /** Format attributes the source listed for the asset (maven2 `extension`, `classifier`, `baseVersion`). */
  attributes?: Record<string, string> | undefined;
}

export type CopyTask = RawCopyTask | ImageCopyTask | PackageCopyTask | BlobCopyTask;

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string> | undefined;
  artifactType?: string | undefined;
  platform?: { os: string; architecture: string; variant?: string | undefined } | undefined;
}

/** A staged, not yet sealed (pending) or sealed record of what must exist on the far side. */
export interface StagedEntry {
  /** The bundle entry kind of the format that staged it (`raw`, `image`, …). */
  kind: string;
  sourceRepository: string;
  path: string;
  targetRepository: string;
  digest: Digest;
  size: number;
  checksums: Checksums;
  /**
   * What the format needs besides digest and size to write the bundle entry (an image's
   * manifests, blobs and referrers), kept by the ledger as opaque JSON. For images `path`
   * is `/v2/<name>/manifests/<tag>`, as Nexus names the tag's asset.
   */
  detail?: unknown;
}

export interface PendingEntry extends StagedEntry {
  /** Monotonic staging order; bundles keep this order so the importer applies it. */
  seq: number;
}

export interface BundleRecord {
  sourceId: string;
  sequence: number;
  /** Digest of the bundle's signed manifest bytes: the bundle's identity and chain link. */
  digest: Digest;
  name: string;
  size: number;
  sealedAt: string;
  /**
   * False from the moment the seal is recorded until the bundle is in the outbox. Record
   * first, publish second: a crash in between leaves a recorded, unpublished bundle that the
   * next seal publishes (the same bytes) before it seals anything new.
   */
  published: boolean;
}

/** A blob the far side asked to be sent again. */
export interface ResendRequest {
  digest: Digest;
  size: number;
  /**
   * Where the bytes can be fetched again when this side no longer stages them (an image
   * layer it skipped because a receipt said the far side had it): an image of a docker
   * repository, or an asset of a raw repository, on the source.
   */
  from?: { repository: string; name: string } | { repository: string; path: string } | undefined;
}

export interface ScanCheckpoint {
  /** Clock time at which this scan started: becomes the watermark when the scan completes. */
  startedAt: string;
  /** lastModified threshold this scan uses (previous watermark less the overlap). */
  since: string | null;
  /** Token of the next page to read; null once the listing is exhausted. */
  continuationToken: string | null;
}

// ───────────────────────────── ports ─────────────────────────────

/** Something that can be streamed more than once (for retries) and whose size is known. */
export interface BlobSource {
  size: number;
  open(): Promise<Readable>;
  /** Bytes `start` to `end` (both inclusive, as in an HTTP Range), where the store can seek: a part of a split blob is read without its prefix. */
  openRange?(start: number, end: number): Promise<Readable>;
}

/**
 * Content-addressed storage for blobs (`blobs/sha256/<hex>`) and sealed bundles.
 * Writes are atomic: a blob or bundle is visible only once it is complete and verified.
 */
export interface ObjectStore {
  statBlob(digest: Digest): Promise<{ size: number } | undefined>;
  /**
   * Streams `content` in and commits it under its sha256 only if the stream ends cleanly
   * (a stream error, e.g. a checksum mismatch, leaves nothing behind). When the blob is
   * already there it is kept and `existed` is true.
   */
  putBlob(
    content: Readable,
    options?: { expectedDigest?: Digest; expectedSize?: number },
  ): Promise<{ digest: Digest; size: number; existed: boolean }>;
  /** Fails with {@link BlobNotFoundError} naming the digest when absent. */
  getBlob(digest: Digest): Promise<BlobSource>;
  /** Removes a blob; one already gone is no error (a re-run removes it again). */
  deleteBlob(digest: Digest): Promise<void>;
  /**
   * Writes a bundle through `write` into a staging area, durably, keyed by its name and
   * manifest digest. It is complete only if `write` resolves; ops do not see it until
   * {@link publishBundle}. Staging the same name again replaces nothing that is published.
   */
  stageBundle(name: string, digest: Digest, write: (out: Writable) => Promise<void>): Promise<{ size: number }>;
  /**
   * Moves the staged bundle with this name and digest into the outbox, where ops take it.
   * Idempotent: when it was published before (the staged copy is gone and the outbox has
   * it) it answers the same. Staged copies of the same name with other digests (seals that
   * crashed before they were recorded) are removed. Fails with {@link BundleNotStagedError}
   * when neither the staged copy nor the published bundle exists.
   */
  publishBundle(name: string, digest: Digest): Promise<{ size: number; location: string }>;
  deleteBundle(name: string): Promise<void>;
  /** Published bundles, by name; reports beside them are not bundles and are not listed. */
  listBundles(): Promise<{ name: string; size: number; location: string }[]>;
  /**
   * Writes the HTML report of a published bundle beside it (`<name without .tar>.html`),
   * atomically, replacing an earlier one. Optional: a store without it gets no reports.
   * A report is derived data (`ferry report` makes it again), never part of the bundle.
   */
  putBundleReport?(name: string, html: string): Promise<{ location: string }>;
  /** Reads a published bundle from its first byte (a seal reads its manifest back to report on it); {@link BundleNotFoundError} when absent. */
  openBundle?(name: string): Promise<Readable>;
  /** Every blob held; optional because only stores that back receipts need it. */
  listBlobs?(): AsyncIterable<{ digest: Digest; size: number }>;
}

/** Durable fan-out of copy tasks. Once `enqueue` resolves, the tasks survive a crash. */
export interface TaskQueue {
  enqueue(tasks: CopyTask[]): Promise<void>;
}

/** What the entry ledger holds at one path for some content (`ExportState.entryAt`). */
export interface EntryAt {
  /** The path's latest entry is this content. */
  known: boolean;
  /** The seq of the path's latest entry, content or tombstone; undefined when nothing was recorded there. */
  latestSeq: number | undefined;
}

/** The export side's durable state: watermarks, checkpoints, the entry and blob ledgers, bundles. */
export interface ExportState {
  getWatermark(repository: string): Promise<string | undefined>;
  /**
   * Moves the watermark forward to `to` only if it still equals `expected` (undefined:
   * none yet) and `to` is later. Returns false when another writer won or `to` is older.
   */
  advanceWatermark(repository: string, expected: string | undefined, to: string): Promise<boolean>;
  getScanCheckpoint(repository: string): Promise<ScanCheckpoint | undefined>;
  putScanCheckpoint(repository: string, checkpoint: ScanCheckpoint | undefined): Promise<void>;

  /**
   * True when the latest entry (pending or sealed) at this asset's path is content matching
   * these checksums. Content recorded there before other content or a tombstone does not
   * count: the far side holds what came after it (v1, v2, then v1 again travels again).
   */
  hasEntry(sourceRepository: string, path: string, checksums: Checksums): Promise<boolean>;
  /**
   * What `hasEntry` answers and the seq of the path's latest entry (content or tombstone),
   * read at once: a copy task for content not known names that seq in its id
   * (export/task-ids.ts), so task queues tell content coming back from its earlier task.
   */
  entryAt(sourceRepository: string, path: string, checksums: Checksums): Promise<EntryAt>;
  /**
   * Records a pending entry; false (and no change) when the latest entry at its path is
   * already the same content (or the same tombstone): offered again with nothing different
   * recorded there since, it is a duplicate; after other content or a tombstone, it is new.
   */
  addPendingEntry(entry: StagedEntry): Promise<boolean>;
  listPendingEntries(): Promise<PendingEntry[]>;
  /**
   * The latest entry (pending or sealed, tombstones aside) of each path of a source
   * repository that is `path` or, with `prefix`, starts with it: what a deletion on the
   * source removes. Optional: without it deletions are not carried.
   */
  latestEntries?(sourceRepository: string, path: string, options: { prefix: boolean }): Promise<StagedEntry[]>;
  /**
   * Every path of a source repository with an entry, without reading the entries: the full
   * reconcile compares paths, and reads the entries of the few gone. Optional: without it
   * the reconcile reads every latest entry.
   */
  ledgerPaths?(sourceRepository: string): Promise<string[]>;
  /**
   * Makes `latestEntries` with `prefix` see entries recorded before the store could list
   * them by path (an older deployment's), stopping between steps when `shouldStop` says so;
   * `complete` false means call again. Optional: a store that always listed them has none.
   */
  completePathIndex?(shouldStop: () => boolean): Promise<{ complete: boolean; written: number }>;

  /**
   * Nexus reported a deletion without naming what (a PURGED event's bare ids): the next
   * scheduled scan runs this repository's full reconcile, not only the reconcile's own
   * schedule. Optional: without it such deletions wait for that schedule.
   */
  requestReconcile?(repository: string, requestedAt: string): Promise<void>;
  /** Repositories whose reconcile was asked for, each with its latest request. */
  reconcileRequests?(): Promise<{ repository: string; requestedAt: string }[]>;
  /** The reconcile ran: forgets the request, unless a newer one came meanwhile. */
  clearReconcileRequest?(repository: string, requestedAt: string): Promise<void>;

  /** The bundle sequence that shipped (or the receipt that confirmed) this blob, if any. */
  shippedIn(digest: Digest): Promise<number | undefined>;
  /**
   * Records blobs the far side holds according to a receipt: `receiptSequence` is the bundle
   * of this chain the receipt is for, or 0 when another chain's receipt reports them.
   */
  recordHeldBlobs(digests: Digest[], receiptSequence: number): Promise<void>;

  /**
   * The far side lacks these blobs though this side believed it held them (a resend request
   * carried back): each leaves the shipped ledger and waits to be included in a bundle
   * again. A request is satisfied once the blob is back in the ledger (a seal included
   * it, or a receipt reports it held); asking again for a waiting blob changes nothing.
   */
  requestResend(blobs: ResendRequest[]): Promise<void>;
  /** Resend requests not yet satisfied, oldest first. */
  listResends(): Promise<ResendRequest[]>;

  getLastBundle(sourceId: string): Promise<BundleRecord | undefined>;
  /**
   * Atomically: the bundle becomes the last one (only if `bundle.sequence` is exactly one
   * past the last), its entries leave the pending set, its included blobs enter the
   * shipped ledger. Throws {@link SequenceConflictError} (out of sequence) or
   * {@link EntryNotPendingError} otherwise, and changes nothing.
   */
  recordSeal(bundle: BundleRecord, entrySeqs: number[], includedBlobs: Digest[]): Promise<void>;
  /** The recorded bundle is in the outbox (idempotent). */
  markBundlePublished(sourceId: string, sequence: number): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

// ───────────────────────────── source and target ─────────────────────────────

export interface SourceAsset {
  /** Normalised to start with `/` whatever the Nexus backend. */
  path: string;
  checksums: Checksums;
  lastModified: string | null;
  size: number | null;
  /** The asset's format block (`"maven2": {…}`), text values only; absent when Nexus gave none. */
  attributes?: Record<string, string> | undefined;
}

export interface SourceComponent {
  id: string;
  repository: string;
  format: string;
  group: string | null;
  name: string;
  version: string | null;
  assets: SourceAsset[];
}

export interface SourcePage {
  items: SourceComponent[];
  /** Token for the page after this one; null when this is the last page. */
  continuationToken: string | null;
}

/** The read-only upstream: a connected Nexus. */
export interface ArtifactSource {
  /** Every repository of the source (name, format, type; a group's members), to check the configuration against. */
  repositories(): Promise<Pick<TargetRepository, 'name' | 'format' | 'type' | 'memberNames'>[]>;
  /** Pages of components, starting after `continuationToken` (from the start when null). */
  componentPages(repository: string, continuationToken?: string | null): AsyncIterable<SourcePage>;
  /**
   * Streams one asset to `consume` through a verifier: the stream errors before its end if
   * the content does not match `expected`. Transient failures (5xx, 429, resets, a body cut
   * short) re-run the whole download, `consume` included.
   */
  downloadAsset<T>(
    repository: string,
    path: string,
    expected: { checksums: Checksums; size?: number | undefined },
    consume: (body: Readable) => Promise<T>,
  ): Promise<T>;
  /**
   * A small document as clients read it (`GET /repository/R/<path>`: an npm packument, a
   * signature), or undefined when there is none (404). Refused beyond `maxBytes`.
   */
  readContent(repository: string, path: string, maxBytes: number): Promise<Buffer | undefined>;
}

/** What decides whether a target repository takes a write. */
export interface TargetRepository {
  name: string;
  format: string;
  /** hosted | proxy | group */
  type: string;
  /** Undefined when the target would not say (the user may not read repository settings). */
  online: boolean | undefined;
  writePolicy: 'allow' | 'allow_once' | 'deny' | undefined;
  /** A group's members, in resolution order. */
  memberNames?: string[] | undefined;
  /** maven2 only: `RELEASE`, `SNAPSHOT` or `MIXED`, when the target says. */
  versionPolicy?: string | undefined;
}

/**
 * A multipart form for a format's upload: text fields, then files streamed from the held
 * blobs (`content.open()` is called again for each attempt).
 */
export interface UploadForm {
  fields: [string, string][];
  files: { field: string; filename: string; content: BlobSource }[];
}

/** The isolated side's Nexus, as the importer needs it. */
export interface ArtifactTarget {
  /** Every repository, for the checks before the first write. */
  repositories(): Promise<TargetRepository[]>;
  /** Every asset of a repository with its checksums (paths normalised to start with `/`). */
  listAssets(repository: string): AsyncIterable<{ path: string; checksums: Checksums }>;
  uploadRaw(repository: string, path: string, content: BlobSource): Promise<void>;
  /** One component through the components API (`POST /v1/components`): `<format>.…` fields and files. */
  uploadComponent(repository: string, form: UploadForm, what: string): Promise<void>;
  /** A file written where a format's own client writes it (`PUT /repository/R/<path>`): maven layout, npm dist-tags. */
  putContent(repository: string, path: string, content: BlobSource, contentType: string): Promise<void>;
  /** A form posted to the repository view (`POST /repository/R/<path>`): the PyPI upload API, which takes a signature with its file. */
  postForm(repository: string, path: string, form: UploadForm, what: string): Promise<void>;
  /** A document as clients read it (`GET /repository/R/<path>`); undefined on 404. Refused beyond `maxBytes`. */
  readContent(repository: string, path: string, maxBytes: number): Promise<Buffer | undefined>;
  /** Deletes one asset (`DELETE /v1/assets/{id}`); false when it is not there. Optional: tombstones need it. */
  deleteAsset?(repository: string, path: string): Promise<boolean>;
}

/** A blob in a registry's upload session, not yet in its repository (`ImageRegistry.stageBlob`). */
export interface StagedBlob {
  commit(): Promise<void>;
  cancel(): Promise<void>;
}

/**
 * An OCI registry, on either side. `name` is the image name inside the registry
 * (`team/app`); which registry serves which Ferry repository is configuration.
 */
export interface ImageRegistry {
  getManifest(name: string, reference: string): Promise<{ mediaType: string; digest: Digest; bytes: Buffer }>;
  headManifest(name: string, reference: string): Promise<{ digest: Digest; mediaType: string; size: number } | undefined>;
  putManifest(name: string, reference: string, manifest: { mediaType: string; bytes: Buffer }): Promise<Digest>;
  headBlob(name: string, digest: Digest): Promise<{ size: number } | undefined>;
  getBlob<T>(name: string, digest: Digest, consume: (body: Readable) => Promise<T>, expectedSize?: number): Promise<T>;
  uploadBlob(name: string, digest: Digest, source: BlobSource): Promise<void>;
  mountBlob(name: string, digest: Digest, fromName: string): Promise<boolean>;
  /**
   * Streams a blob into an upload session without committing it: invisible in the registry
   * until `commit`, dropped by `cancel`. Optional: the importer uploads after verifying
   * without it.
   */
  stageBlob?(name: string, digest: Digest, size: number, content: AsyncIterable<Buffer>): Promise<StagedBlob>;
  tags(name: string): AsyncIterable<string>;
  catalog(): AsyncIterable<string>;
  /** OCI 1.1 referrers of a manifest; undefined when the registry has no referrers API. */
  referrers(name: string, digest: Digest): Promise<Descriptor[] | undefined>;
  /** `DELETE /v2/<name>/manifests/<digest>` (every tag on it goes too; blobs stay). Optional: docker tombstones need it. */
  deleteManifest?(name: string, digest: Digest): Promise<void>;
}

export interface ImportedBundleRecord {
  sourceId: string;
  sequence: number;
  digest: Digest;
  /** The manifest's `previous`: the digest of the bundle this one chains onto. */
  previous: Digest | null;
  importedAt: string;
  advancesChain: boolean;
}

/** One tombstone's decision as an import recorded it before deleting anything (ImportState). */
export interface RecordedDeletion {
  index: number;
  action: 'delete' | 'keep';
  reason?: string | undefined;
}

/** The import runner's own durable progress, on the isolated side. */
export interface ImportState {
  /** The last bundle applied in sequence for this source, if any. */
  lastImported(sourceId: string): Promise<{ sequence: number; digest: Digest } | undefined>;
  /** Completed import of this exact bundle, with when. */
  importedBundle(digest: Digest): Promise<{ sequence: number; importedAt: string } | undefined>;
  /** Per-entry progress inside a bundle, so a killed import resumes without redoing work. */
  entryOutcome(bundleDigest: Digest, index: number): Promise<'imported' | 'present' | undefined>;
  recordEntryOutcome(bundleDigest: Digest, index: number, outcome: 'imported' | 'present'): Promise<void>;
  /**
   * Marks the bundle done and, unless it was a gap import, advances the chain to it,
   * atomically. The chain then keeps moving over bundles imported earlier out of sequence
   * that link onto it (`previous` equal to the head's digest): after 1, 2, 5 (a gap) then
   * 3 and 4, the head is 5. A record at or below the head never moves it back.
   */
  recordBundleImported(record: ImportedBundleRecord): Promise<void>;
  /**
   * What Ferry itself imported at a target location (`/dir/x.bin`, `/team/app:1.0`) and with
   * which content: the only things a tombstone may delete. Optional: without it every
   * tombstone is kept.
   */
  importedAt?(repository: string, path: string): Promise<Digest | undefined>;
  recordImportedAt?(repository: string, path: string, digest: Digest | undefined): Promise<void>;
  /**
   * What an import decided for each tombstone of a bundle, recorded before its first
   * deletion (the first decision recorded for an entry stays): a re-run keeps what was
   * kept, and reports as deleted by this import what it finds gone after deciding to delete
   * it. Optional: without it a kill between a deletion and its outcome reports it as kept.
   */
  deletionDecision?(bundleDigest: Digest, index: number): Promise<RecordedDeletion | undefined>;
  recordDeletionDecisions?(bundleDigest: Digest, decisions: readonly RecordedDeletion[]): Promise<void>;
  /**
   * The parts a blob not yet put together lists (held for it by this or an earlier import).
   * The held store keeps parts under their own digest, so two blobs that begin alike share a
   * part: removing the parts of one blob put together must keep a part another still waits
   * for. Optional: without them a later import may find such a part gone, and asks again.
   */
  recordAwaitedParts?(blob: Digest, parts: readonly Digest[]): Promise<void>;
  /** The blobs recorded as waiting for this part (some may be put together since). */
  blobsAwaiting?(part: Digest): Promise<Digest[]>;
  /** Every part recorded for this blob, of each split of it (a resend splits it anew). */
  partsAwaitedBy?(blob: Digest): Promise<Digest[]>;
  /** The blob is put together: it waits for nothing any more. */
  forgetAwaitedParts?(blob: Digest): Promise<void>;
  /** Where on a target registry Ferry put a blob before: a cross-repository mount source. */
  blobLocation?(registry: string, digest: Digest): Promise<string | undefined>;
  recordBlobLocation?(registry: string, digest: Digest, name: string): Promise<void>;
}
