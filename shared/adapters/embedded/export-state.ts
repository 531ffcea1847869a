/**
 * The export side's durable state in the embedded SQLite file: watermarks, scan
 * checkpoints, the entry ledger, the shipped-blob ledger and the bundle chain.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { Digest } from '../../digest.ts';
import type {
  BundleRecord,
  Checksums,
  EntryAt,
  ExportState,
  PendingEntry,
  ResendRequest,
  ScanCheckpoint,
  StagedEntry,
} from '../../core/ports/index.ts';
import { integer, optionalText, SqliteComponent, text, transaction, type Row } from './database.ts';
import { EntryNotPendingError, SequenceConflictError } from '../../core/ports/errors.ts';
import { normaliseInstant } from '../../core/ports/instants.ts';

const MIGRATIONS = [
  `
  CREATE TABLE watermarks (
    repository TEXT PRIMARY KEY,
    value      TEXT NOT NULL
  );
  CREATE TABLE scan_checkpoints (
    repository TEXT PRIMARY KEY,
    json       TEXT NOT NULL
  );
  CREATE TABLE entries (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    source_repository TEXT NOT NULL,
    path              TEXT NOT NULL,
    target_repository TEXT NOT NULL,
    digest            TEXT NOT NULL,
    size              INTEGER NOT NULL,
    sha1              TEXT,
    md5               TEXT,
    sha256            TEXT,
    sha512            TEXT,
    kind              TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('pending', 'sealed')),
    bundle_sequence   INTEGER,
    UNIQUE (source_repository, path, digest)
  );
  CREATE INDEX entries_pending ON entries (state, seq);
  CREATE TABLE shipped_blobs (
    digest          TEXT PRIMARY KEY,
    bundle_sequence INTEGER NOT NULL,
    via             TEXT NOT NULL CHECK (via IN ('bundle', 'receipt'))
  );
  CREATE TABLE bundles (
    source_id TEXT NOT NULL,
    sequence  INTEGER NOT NULL,
    digest    TEXT NOT NULL,
    name      TEXT NOT NULL,
    size      INTEGER NOT NULL,
    sealed_at TEXT NOT NULL,
    PRIMARY KEY (source_id, sequence)
  );
  `,
  // Image entries carry the manifests, blobs and referrers they need (JSON).
  `ALTER TABLE entries ADD COLUMN image_json TEXT;`,
  // Record first, publish second: bundles sealed before this column existed were published.
  `ALTER TABLE bundles ADD COLUMN published INTEGER NOT NULL DEFAULT 1;`,
  // Blobs the far side asked for again; a row is satisfied once the blob is back in shipped_blobs.
  `
  CREATE TABLE resend_requests (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    digest    TEXT NOT NULL UNIQUE,
    size      INTEGER NOT NULL,
    from_json TEXT
  );
  `,
  // The format that staged an entry keeps what it needs besides digest and size here, as JSON.
  `ALTER TABLE entries RENAME COLUMN image_json TO detail_json;`,
  // Content that comes back to a path (after other content or a deletion) is recorded again: the same
  // content at a path is one entry per era (see ERA), no longer one ever. SQLite cannot change a table's
  // UNIQUE rule in place, so the table is rebuilt, seqs kept.
  `
  ALTER TABLE entries RENAME TO entries_v5;
  CREATE TABLE entries (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    source_repository TEXT NOT NULL,
    path              TEXT NOT NULL,
    target_repository TEXT NOT NULL,
    digest            TEXT NOT NULL,
    size              INTEGER NOT NULL,
    sha1              TEXT,
    md5               TEXT,
    sha256            TEXT,
    sha512            TEXT,
    kind              TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('pending', 'sealed')),
    bundle_sequence   INTEGER,
    detail_json       TEXT,
    era               INTEGER NOT NULL,
    UNIQUE (source_repository, path, digest, era)
  );
  INSERT INTO entries (seq, source_repository, path, target_repository, digest, size, sha1, md5, sha256, sha512, kind, state, bundle_sequence, detail_json, era)
    SELECT e.seq, e.source_repository, e.path, e.target_repository, e.digest, e.size, e.sha1, e.md5, e.sha256, e.sha512, e.kind, e.state, e.bundle_sequence, e.detail_json,
      (SELECT COALESCE(MAX(o.seq), 0) FROM entries_v5 o
        WHERE o.source_repository = e.source_repository AND o.path = e.path AND o.seq < e.seq AND o.digest <> e.digest)
    FROM entries_v5 e ORDER BY e.seq;
  UPDATE sqlite_sequence SET seq = (SELECT MAX(seq) FROM sqlite_sequence WHERE name IN ('entries', 'entries_v5')) WHERE name = 'entries';
  DROP TABLE entries_v5;
  CREATE INDEX entries_pending ON entries (state, seq);
  `,
];

/**
 * An entry's era: the seq of the latest entry at its path with another digest (other content,
 * or a tombstone: its key is not a content digest) when it was staged, 0 if none. The same
 * content, or the same tombstone, is recorded once per era: offered again while it is still
 * the path's latest entry, it is a duplicate; after something else was recorded there (v2
 * over v1, a deletion, content back over a tombstone), it is new.
 */
const ERA = `(SELECT COALESCE(MAX(seq), 0) FROM entries
  WHERE source_repository = $repository AND path = $path AND digest <> $digest)`;

/**
 * Bundles are numbered from 1: with no bundle sealed yet for a source, the next
 * `recordSeal` must carry sequence 1.
 */
export const FIRST_BUNDLE_SEQUENCE = 1;

export class SqliteExportState extends SqliteComponent implements ExportState {

  /** `db`: an open database (shared with e.g. the task queue) or a file path to open. */
  constructor(db: DatabaseSync | string) {
    super(db, 'export-state', MIGRATIONS);
  }

  async getWatermark(repository: string): Promise<string | undefined> {
    const row = this.prepared('SELECT value FROM watermarks WHERE repository = ?').get(repository);
    return row === undefined ? undefined : text(row, 'value');
  }

  /**
   * Watermarks are stored normalised (`Date#toISOString`, UTC, millisecond precision), so
   * comparing the stored strings compares instants; `expected` and `to` are normalised
   * the same way before comparison. The check and the write are one statement, so of two
   * writers (processes or connections) holding the same `expected`, exactly one wins.
   */
  async advanceWatermark(repository: string, expected: string | undefined, to: string): Promise<boolean> {
    const next = normaliseInstant(`watermark for ${repository}`, to);
    if (expected === undefined) {
      const result = this
        .prepared('INSERT INTO watermarks (repository, value) VALUES (?, ?) ON CONFLICT (repository) DO NOTHING')
        .run(repository, next);
      return Number(result.changes) === 1;
    }
    const previous = normaliseInstant(`expected watermark for ${repository}`, expected);
    if (!(next > previous)) return false;
    const result = this
      .prepared('UPDATE watermarks SET value = ? WHERE repository = ? AND value = ?')
      .run(next, repository, previous);
    return Number(result.changes) === 1;
  }

  async getScanCheckpoint(repository: string): Promise<ScanCheckpoint | undefined> {
    const row = this.prepared('SELECT json FROM scan_checkpoints WHERE repository = ?').get(repository);
    return row === undefined ? undefined : (JSON.parse(text(row, 'json')) as ScanCheckpoint);
  }

  /** `undefined` clears the checkpoint (the scan completed). */
  async putScanCheckpoint(repository: string, checkpoint: ScanCheckpoint | undefined): Promise<void> {
    if (checkpoint === undefined) {
      this.prepared('DELETE FROM scan_checkpoints WHERE repository = ?').run(repository);
      return;
    }
    const json = JSON.stringify({
      startedAt: checkpoint.startedAt,
      since: checkpoint.since,
      continuationToken: checkpoint.continuationToken,
    });
    this
      .prepared('INSERT INTO scan_checkpoints (repository, json) VALUES (?, ?) ON CONFLICT (repository) DO UPDATE SET json = excluded.json')
      .run(repository, json);
  }

  /**
   * Content matches by sha256 when the caller knows it (compared with the entry's content
   * address, which is the sha256 of the stored bytes); otherwise by sha1 as the source
   * published it. With neither, nothing can be matched and the answer is false. Only the
   * path's latest entry counts: what came after other content (or a deletion) replaced it.
   */
  async hasEntry(sourceRepository: string, path: string, checksums: Checksums): Promise<boolean> {
    return (await this.entryAt(sourceRepository, path, checksums)).known;
  }

  /** One indexed read of the path's latest entry. */
  async entryAt(sourceRepository: string, path: string, checksums: Checksums): Promise<EntryAt> {
    const latest = this
      .prepared('SELECT seq, kind, digest, sha1 FROM entries WHERE source_repository = ? AND path = ? ORDER BY seq DESC LIMIT 1')
      .get(sourceRepository, path);
    if (latest === undefined) return { known: false, latestSeq: undefined };
    const sha256 = checksums.sha256?.toLowerCase();
    const sha1 = checksums.sha1?.toLowerCase();
    const matches = sha256 !== undefined ? text(latest, 'digest') === `sha256:${sha256}` : sha1 !== undefined && optionalText(latest, 'sha1') === sha1;
    return { known: text(latest, 'kind') !== 'tombstone' && matches, latestSeq: integer(latest, 'seq') };
  }

  /** One statement: the era is read and the entry written under the same write lock. */
  async addPendingEntry(entry: StagedEntry): Promise<boolean> {
    const { checksums } = entry;
    const result = this
      .prepared(
        `INSERT INTO entries (source_repository, path, target_repository, digest, size, sha1, md5, sha256, sha512, kind, detail_json, era, state)
         VALUES ($repository, $path, $target, $digest, $size, $sha1, $md5, $sha256, $sha512, $kind, $detail, ${ERA}, 'pending')
         ON CONFLICT (source_repository, path, digest, era) DO NOTHING`,
      )
      .run({
        repository: entry.sourceRepository,
        path: entry.path,
        target: entry.targetRepository,
        digest: entry.digest,
        size: entry.size,
        sha1: lower(checksums.sha1),
        md5: lower(checksums.md5),
        sha256: lower(checksums.sha256),
        sha512: lower(checksums.sha512),
        kind: entry.kind,
        detail: entry.detail === undefined ? null : JSON.stringify(entry.detail),
      });
    return Number(result.changes) === 1;
  }

  /** Pending entries in staging order (`seq` ascending). */
  async listPendingEntries(): Promise<PendingEntry[]> {
    const rows = this.prepared("SELECT * FROM entries WHERE state = 'pending' ORDER BY seq").all();
    return rows.map(toPendingEntry);
  }

  async latestEntries(sourceRepository: string, path: string, options: { prefix: boolean }): Promise<StagedEntry[]> {
    const where = options.prefix ? 'substr(path, 1, length(?)) = ?' : 'path = ? AND path = ?';
    const rows = this.prepared(
      `SELECT * FROM entries WHERE seq IN (
         SELECT MAX(seq) FROM entries WHERE source_repository = ? AND kind <> 'tombstone' AND ${where} GROUP BY path
       ) ORDER BY seq`,
    ).all(sourceRepository, path, path);
    return rows.map((row) => {
      const { seq: _seq, ...entry } = toPendingEntry(row);
      return entry;
    });
  }

  async ledgerPaths(sourceRepository: string): Promise<string[]> {
    return this.prepared('SELECT DISTINCT path FROM entries WHERE source_repository = ? ORDER BY path')
      .all(sourceRepository)
      .map((row) => text(row, 'path'));
  }

  async shippedIn(digest: Digest): Promise<number | undefined> {
    const row = this.prepared('SELECT bundle_sequence FROM shipped_blobs WHERE digest = ?').get(digest);
    return row === undefined ? undefined : integer(row, 'bundle_sequence');
  }

  /** Blobs already in the ledger keep their original record (the earliest proof wins). */
  async recordHeldBlobs(digests: Digest[], receiptSequence: number): Promise<void> {
    transaction(this.db, () => {
      const insert = this.prepared(
        "INSERT INTO shipped_blobs (digest, bundle_sequence, via) VALUES (?, ?, 'receipt') ON CONFLICT (digest) DO NOTHING",
      );
      for (const digest of digests) insert.run(digest, receiptSequence);
    });
  }

  async requestResend(blobs: ResendRequest[]): Promise<void> {
    transaction(this.db, () => {
      this.db.exec('DELETE FROM resend_requests WHERE digest IN (SELECT digest FROM shipped_blobs)');
      const forget = this.prepared('DELETE FROM shipped_blobs WHERE digest = ?');
      const wait = this.prepared('INSERT INTO resend_requests (digest, size, from_json) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING');
      for (const blob of blobs) {
        forget.run(blob.digest);
        wait.run(blob.digest, blob.size, blob.from === undefined ? null : JSON.stringify(blob.from));
      }
    });
  }

  async listResends(): Promise<ResendRequest[]> {
    const rows = this
      .prepared('SELECT digest, size, from_json FROM resend_requests r WHERE NOT EXISTS (SELECT 1 FROM shipped_blobs s WHERE s.digest = r.digest) ORDER BY id')
      .all();
    return rows.map((row) => {
      const from = optionalText(row, 'from_json');
      return { digest: text(row, 'digest') as Digest, size: integer(row, 'size'), ...(from !== undefined ? { from: JSON.parse(from) as ResendRequest['from'] } : {}) };
    });
  }

  async getLastBundle(sourceId: string): Promise<BundleRecord | undefined> {
    const row = this
      .prepared('SELECT * FROM bundles WHERE source_id = ? ORDER BY sequence DESC LIMIT 1')
      .get(sourceId);
    return row === undefined ? undefined : toBundleRecord(row);
  }

  /**
   * One transaction: either the bundle, its sealed entries and its shipped blobs are all
   * recorded, or (on a sequence conflict or an entry that is not pending) nothing is.
   */
  async recordSeal(bundle: BundleRecord, entrySeqs: number[], includedBlobs: Digest[]): Promise<void> {
    transaction(this.db, () => {
      const last = this
        .prepared('SELECT MAX(sequence) AS sequence FROM bundles WHERE source_id = ?')
        .get(bundle.sourceId);
      const lastSequence = last?.sequence === null || last === undefined ? FIRST_BUNDLE_SEQUENCE - 1 : integer(last, 'sequence');
      if (bundle.sequence !== lastSequence + 1) {
        throw new SequenceConflictError(bundle.sourceId, lastSequence + 1, bundle.sequence);
      }
      this
        .prepared('INSERT INTO bundles (source_id, sequence, digest, name, size, sealed_at, published) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(bundle.sourceId, bundle.sequence, bundle.digest, bundle.name, bundle.size, bundle.sealedAt, bundle.published ? 1 : 0);
      const seal = this.prepared(
        "UPDATE entries SET state = 'sealed', bundle_sequence = ? WHERE seq = ? AND state = 'pending'",
      );
      const notPending: number[] = [];
      for (const seq of entrySeqs) {
        if (Number(seal.run(bundle.sequence, seq).changes) !== 1) notPending.push(seq);
      }
      if (notPending.length > 0) throw new EntryNotPendingError(bundle.sequence, notPending);
      const ship = this.prepared(
        "INSERT INTO shipped_blobs (digest, bundle_sequence, via) VALUES (?, ?, 'bundle') ON CONFLICT (digest) DO NOTHING",
      );
      for (const digest of includedBlobs) ship.run(digest, bundle.sequence);
    });
  }

  async markBundlePublished(sourceId: string, sequence: number): Promise<void> {
    this.prepared('UPDATE bundles SET published = 1 WHERE source_id = ? AND sequence = ?').run(sourceId, sequence);
  }
}


function lower(value: string | undefined): string | null {
  return value === undefined ? null : value.toLowerCase();
}

function toPendingEntry(row: Row): PendingEntry {
  const checksums: Checksums = {};
  for (const algorithm of ['sha256', 'sha1', 'md5', 'sha512'] as const) {
    const value = optionalText(row, algorithm);
    if (value !== undefined) checksums[algorithm] = value;
  }
  return {
    seq: integer(row, 'seq'),
    kind: text(row, 'kind'),
    sourceRepository: text(row, 'source_repository'),
    path: text(row, 'path'),
    targetRepository: text(row, 'target_repository'),
    digest: text(row, 'digest') as Digest,
    size: integer(row, 'size'),
    checksums,
    ...(optionalText(row, 'detail_json') !== undefined ? { detail: JSON.parse(text(row, 'detail_json')) as unknown } : {}),
  };
}

function toBundleRecord(row: Row): BundleRecord {
  return {
    sourceId: text(row, 'source_id'),
    sequence: integer(row, 'sequence'),
    digest: text(row, 'digest') as Digest,
    name: text(row, 'name'),
    size: integer(row, 'size'),
    sealedAt: text(row, 'sealed_at'),
    published: integer(row, 'published') === 1,
  };
}
