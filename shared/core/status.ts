/**
 * `ferry status`: what each side knows about itself, read-only. The adapters answer the
 * narrow reader ports below from their own state (SQLite on the embedded default, DynamoDB
 * on the serverless side); the functions here put the answers into one stable shape
 * ({@link ExportStatus}, {@link ImportStatus}, format {@link STATUS_FORMAT}) for `--json` and
 * for the human table (status-format.ts). Nothing here writes, and nothing needs the source
 * or the target Nexus.
 */
import type { Digest } from '../digest.ts';
import type { BundleRecord, ObjectStore, ScanCheckpoint } from './ports/index.ts';

/** The `--json` shape's name; it changes only with a version bump. */
export const STATUS_FORMAT = 'ferry.status.v1';

export type Deployment = 'embedded' | 'serverless';

/** Entries and their bytes. */
export interface Tally {
  entries: number;
  bytes: number;
}

// ───────────────────────────── export side: what the adapters answer ─────────────────────────────

/** One repository as the export state knows it: by watermark, scan checkpoint or pending entries. */
export interface RepositorySnapshot {
  repository: string;
  watermark: string | null;
  /** Present while a scan of the repository is in progress (or was interrupted). */
  scan: ScanCheckpoint | null;
  /** Staged entries not yet sealed into a bundle. */
  pending: Tally;
}

export interface ExportStateSnapshot {
  repositories: RepositorySnapshot[];
  bundles: { sealed: number; bytes: number; last: BundleRecord | null };
  /**
   * The shipped ledger: blobs shipped in this chain's bundles, and blobs other chains'
   * receipts say the far side holds. The ledger keeps digests, not sizes.
   */
  farSide: { shippedInBundles: number; reportedByReceipts: number };
  /** Blobs the far side asked for again, not yet back in a bundle. */
  resendsWaiting: number;
  /** Anything the reader wants the operator to know about what it read. */
  notes: string[];
}

/** The export side's state, read-only. */
export interface ExportStatusReader {
  readExportState(sourceId: string): Promise<ExportStateSnapshot>;
}

/** A copy task that failed: for good (`dead`), or waiting for its next attempt (`retrying`). */
export interface FailedTask {
  id: string;
  /** `repository/path`, `repository/name:tag`, … as the export logs name it. */
  task: string;
  state: 'dead' | 'retrying';
  attempts: number;
  lastError: string;
  /** When the last attempt failed. */
  failedAt: string;
}

/**
 * Copy tasks as the side keeps them. The embedded queue keeps each task with its last
 * error; the serverless side keeps failed tasks as messages in the dead-letter queue, of
 * which SQS tells only an approximate count. `null`: not known here.
 */
export interface TaskQueueStatus {
  kept: 'task-queue' | 'dead-letter-queue';
  queued: number | null;
  running: number | null;
  retrying: number | null;
  dead: number | null;
  failed: FailedTask[];
  note: string | null;
}

/** Where the side keeps its copy tasks, read-only. */
export interface TaskStatusReader {
  readTaskStatus(): Promise<TaskQueueStatus>;
}

// ───────────────────────────── export side: what `ferry status` shows ─────────────────────────────

export interface RepositoryStatus {
  repository: string;
  watermark: string | null;
  /** Whole seconds from the watermark to the status time: how far behind now the scans are. */
  lagSeconds: number | null;
  scan: (ScanCheckpoint & { runningSeconds: number }) | null;
  pending: Tally;
}

export interface ExportStatus {
  format: typeof STATUS_FORMAT;
  side: 'export';
  deployment: Deployment;
  sourceId: string;
  /** When the status was read (ISO 8601). */
  at: string;
  repositories: RepositoryStatus[];
  /** Configured repositories the state knows nothing of yet (a group shows as its members). */
  notScanned: string[];
  pending: Tally;
  tasks: TaskQueueStatus;
  bundles: { sealed: number; bytes: number; last: BundleRecord | null };
  /** What the far side is known to hold: `blobs` = shipped in bundles + reported by receipts. */
  farSide: { blobs: number; shippedInBundles: number; reportedByReceipts: number; resendsWaiting: number };
  notes: string[];
}

export function exportStatus(input: {
  deployment: Deployment;
  sourceId: string;
  now: Date;
  state: ExportStateSnapshot;
  tasks: TaskQueueStatus;
  /** Repository names the configuration carries (embedded side), to name those never scanned. */
  configured?: readonly string[];
}): ExportStatus {
  const { state, now } = input;
  const repositories = [...state.repositories]
    .sort((a, b) => (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0))
    .map((r) => ({
      repository: r.repository,
      watermark: r.watermark,
      lagSeconds: secondsSince(r.watermark, now),
      scan: r.scan === null ? null : { ...r.scan, runningSeconds: secondsSince(r.scan.startedAt, now) ?? 0 },
      pending: r.pending,
    }));
  const known = new Set(repositories.map((r) => r.repository));
  return {
    format: STATUS_FORMAT,
    side: 'export',
    deployment: input.deployment,
    sourceId: input.sourceId,
    at: now.toISOString(),
    repositories,
    notScanned: (input.configured ?? []).filter((name) => !known.has(name)),
    pending: repositories.reduce((sum, r) => ({ entries: sum.entries + r.pending.entries, bytes: sum.bytes + r.pending.bytes }), { entries: 0, bytes: 0 }),
    tasks: input.tasks,
    bundles: state.bundles,
    farSide: {
      blobs: state.farSide.shippedInBundles + state.farSide.reportedByReceipts,
      ...state.farSide,
      resendsWaiting: state.resendsWaiting,
    },
    notes: state.notes,
  };
}

// ───────────────────────────── import side ─────────────────────────────

/** One source (export chain) as the import state knows it. */
export interface ImportSourceSnapshot {
  sourceId: string;
  /** The last bundle imported in sequence: the chain's head. */
  chainHead: { sequence: number; digest: Digest } | null;
  /** The bundle imported most recently (ahead of the head when imported with --allow-gap). */
  lastImport: { sequence: number; digest: Digest; importedAt: string } | null;
  bundlesImported: number;
  /** Bundles imported out of sequence, waiting for the gap before them to fill. */
  aheadOfChain: number;
}

export interface ImportStateSnapshot {
  sources: ImportSourceSnapshot[];
}

/** The import side's state, read-only. */
export interface ImportStatusReader {
  readImportState(): Promise<ImportStateSnapshot>;
}

/** A document the import side wrote for ops to carry back (a receipt or a resend request). */
export interface FarSideFile {
  name: string;
  /** A path or an `s3://` URL. */
  location: string;
  writtenAt: string;
}

/** Where the import side writes receipts and resend requests, read-only. */
export interface ReceiptShelf {
  readonly location: string;
  listFarSideFiles(): Promise<FarSideFile[]>;
}

export interface ImportSourceStatus extends ImportSourceSnapshot {
  /** The newest receipt named after one of this source's bundles (`<source>-<sequence>.receipt.json`). */
  lastReceipt: FarSideFile | null;
  /** The newest resend request for this source (`<source>-<sequence>.resend-request.json`). */
  lastResendRequest: FarSideFile | null;
}

export interface ImportStatus {
  format: typeof STATUS_FORMAT;
  side: 'import';
  deployment: Deployment;
  at: string;
  sources: ImportSourceStatus[];
  /** Blobs the import side holds for later bundles (shared by every source); null when not read. */
  held: { blobs: number; bytes: number } | null;
  /** Receipts written, and where; null when not read. */
  receipts: { location: string; count: number; latest: FarSideFile | null } | null;
  notes: string[];
}

export function importStatus(input: {
  deployment: Deployment;
  now: Date;
  state: ImportStateSnapshot;
  held: { blobs: number; bytes: number } | null;
  shelf: { location: string; files: FarSideFile[] } | null;
  notes?: string[];
}): ImportStatus {
  const files = input.shelf?.files ?? [];
  const receipts = files.filter((f) => f.name.endsWith(RECEIPT_SUFFIX));
  const sources = [...input.state.sources]
    .sort((a, b) => (a.sourceId < b.sourceId ? -1 : a.sourceId > b.sourceId ? 1 : 0))
    .map((source) => ({
      ...source,
      lastReceipt: newest(files.filter((f) => namedFor(f.name, source.sourceId, RECEIPT_SUFFIX))),
      lastResendRequest: newest(files.filter((f) => namedFor(f.name, source.sourceId, RESEND_SUFFIX))),
    }));
  return {
    format: STATUS_FORMAT,
    side: 'import',
    deployment: input.deployment,
    at: input.now.toISOString(),
    sources,
    held: input.held,
    receipts: input.shelf === null ? null : { location: input.shelf.location, count: receipts.length, latest: newest(receipts) },
    notes: input.notes ?? [],
  };
}

/** Counts and sums what a held-blob store lists (it streams, so memory stays flat). */
export async function heldTotals(store: Required<Pick<ObjectStore, 'listBlobs'>>): Promise<{ blobs: number; bytes: number }> {
  let blobs = 0;
  let bytes = 0;
  for await (const blob of store.listBlobs()) {
    blobs += 1;
    bytes += blob.size;
  }
  return { blobs, bytes };
}

/**
 * The per-source import summary from the chain heads and the imported bundles, as both
 * import states keep them (shared so the embedded and serverless answers agree).
 */
export function summariseImports(
  heads: { sourceId: string; sequence: number; digest: Digest }[],
  imported: { sourceId: string; sequence: number; digest: Digest; importedAt: string }[],
): ImportSourceSnapshot[] {
  const ids = new Set([...heads.map((h) => h.sourceId), ...imported.map((b) => b.sourceId)]);
  return [...ids].map((sourceId) => {
    const head = heads.find((h) => h.sourceId === sourceId);
    const mine = imported.filter((b) => b.sourceId === sourceId);
    const last = mine.reduce<(typeof mine)[number] | undefined>((a, b) => (a === undefined || b.importedAt > a.importedAt ? b : a), undefined);
    return {
      sourceId,
      chainHead: head === undefined ? null : { sequence: head.sequence, digest: head.digest },
      lastImport: last === undefined ? null : { sequence: last.sequence, digest: last.digest, importedAt: last.importedAt },
      bundlesImported: mine.length,
      aheadOfChain: mine.filter((b) => b.sequence > (head?.sequence ?? 0)).length,
    };
  });
}

const RECEIPT_SUFFIX = '.receipt.json';
const RESEND_SUFFIX = '.resend-request.json';

/** `ferry import` names a receipt after the bundle file: `<source>-<sequence>.receipt.json` unless renamed. */
function namedFor(name: string, sourceId: string, suffix: string): boolean {
  if (!name.startsWith(`${sourceId}-`) || !name.endsWith(suffix)) return false;
  return /^\d+$/.test(name.slice(sourceId.length + 1, name.length - suffix.length));
}

function newest(files: FarSideFile[]): FarSideFile | null {
  return files.reduce<FarSideFile | null>((a, b) => (a === null || b.writtenAt > a.writtenAt || (b.writtenAt === a.writtenAt && b.name > a.name) ? b : a), null);
}

function secondsSince(instant: string | null, now: Date): number | null {
  if (instant === null) return null;
  const ms = Date.parse(instant);
  return Number.isNaN(ms) ? null : Math.max(0, Math.floor((now.getTime() - ms) / 1000));
}
