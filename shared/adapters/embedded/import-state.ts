/**
 * The import runner's durable progress on the isolated side, in a SQLite file: which
 * bundles are done, where each source's chain stands, and per-entry outcomes (and each
 * tombstone's decision) inside a bundle so a killed import resumes where it stopped; which
 * held parts blobs not yet put together wait for.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { Digest } from '../../digest.ts';
import type { ImportedBundleRecord, ImportState, RecordedDeletion } from '../../core/ports/index.ts';
import { integer, optionalText, SqliteComponent, text, transaction, type Row } from './database.ts';

const MIGRATIONS = [
  `
  CREATE TABLE bundles_imported (
    digest      TEXT PRIMARY KEY,
    source_id   TEXT NOT NULL,
    sequence    INTEGER NOT NULL,
    imported_at TEXT NOT NULL
  );
  CREATE TABLE chain (
    source_id TEXT PRIMARY KEY,
    sequence  INTEGER NOT NULL,
    digest    TEXT NOT NULL
  );
  CREATE TABLE entry_outcomes (
    bundle_digest TEXT NOT NULL,
    idx           INTEGER NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('imported', 'present')),
    PRIMARY KEY (bundle_digest, idx)
  );
  `,
  // Where Ferry put a blob on a target registry: a source for cross-repository mounts.
  `
  CREATE TABLE blob_locations (
    registry TEXT NOT NULL,
    digest   TEXT NOT NULL,
    name     TEXT NOT NULL,
    PRIMARY KEY (registry, digest)
  );
  `,
  // The chain moves over bundles imported out of sequence once the gap before them fills.
  `
  ALTER TABLE bundles_imported ADD COLUMN previous TEXT;
  CREATE INDEX bundles_imported_by_sequence ON bundles_imported (source_id, sequence);
  `,
  // What Ferry itself put on the target, and with which content: all a tombstone may delete.
  `
  CREATE TABLE imported_at (
    repository TEXT NOT NULL,
    path       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    PRIMARY KEY (repository, path)
  );
  `,
  // Each tombstone's decision, recorded before the import deletes anything (ImportState).
  `
  CREATE TABLE deletion_decisions (
    bundle_digest TEXT NOT NULL,
    idx           INTEGER NOT NULL,
    action        TEXT NOT NULL CHECK (action IN ('delete', 'keep')),
    reason        TEXT,
    PRIMARY KEY (bundle_digest, idx)
  );
  `,
  // Parts held for blobs not yet put together: a shared part outlives the blob put together first.
  `
  CREATE TABLE awaited_parts (
    part TEXT NOT NULL,
    blob TEXT NOT NULL,
    PRIMARY KEY (part, blob)
  );
  `,
  // Every part of a blob put together goes, those of an earlier split of it too.
  `
  CREATE INDEX awaited_parts_by_blob ON awaited_parts (blob);
  `,
];

export class SqliteImportState extends SqliteComponent implements ImportState {

  constructor(db: DatabaseSync | string) {
    super(db, 'import-state', MIGRATIONS);
  }

  async lastImported(sourceId: string): Promise<{ sequence: number; digest: Digest } | undefined> {
    const row = this.db.prepare('SELECT sequence, digest FROM chain WHERE source_id = ?').get(sourceId);
    return row === undefined ? undefined : { sequence: integer(row, 'sequence'), digest: text(row, 'digest') as Digest };
  }

  async importedBundle(digest: Digest): Promise<{ sequence: number; importedAt: string } | undefined> {
    const row = this.db.prepare('SELECT sequence, imported_at FROM bundles_imported WHERE digest = ?').get(digest);
    return row === undefined ? undefined : { sequence: integer(row, 'sequence'), importedAt: text(row, 'imported_at') };
  }

  async blobLocation(registry: string, digest: Digest): Promise<string | undefined> {
    const row = this.db.prepare('SELECT name FROM blob_locations WHERE registry = ? AND digest = ?').get(registry, digest);
    return row === undefined ? undefined : text(row, 'name');
  }

  async recordBlobLocation(registry: string, digest: Digest, name: string): Promise<void> {
    this.db
      .prepare('INSERT INTO blob_locations (registry, digest, name) VALUES (?, ?, ?) ON CONFLICT (registry, digest) DO NOTHING')
      .run(registry, digest, name);
  }

  async importedAt(repository: string, path: string): Promise<Digest | undefined> {
    const row = this.db.prepare('SELECT digest FROM imported_at WHERE repository = ? AND path = ?').get(repository, path);
    return row === undefined ? undefined : (text(row, 'digest') as Digest);
  }

  /** `undefined` forgets the location (a tombstone deleted it). */
  async recordImportedAt(repository: string, path: string, digest: Digest | undefined): Promise<void> {
    if (digest === undefined) {
      this.db.prepare('DELETE FROM imported_at WHERE repository = ? AND path = ?').run(repository, path);
      return;
    }
    this.db
      .prepare('INSERT INTO imported_at (repository, path, digest) VALUES (?, ?, ?) ON CONFLICT (repository, path) DO UPDATE SET digest = excluded.digest')
      .run(repository, path, digest);
  }

  async deletionDecision(bundleDigest: Digest, index: number): Promise<RecordedDeletion | undefined> {
    const row = this.db.prepare('SELECT action, reason FROM deletion_decisions WHERE bundle_digest = ? AND idx = ?').get(bundleDigest, index);
    if (row === undefined) return undefined;
    const reason = optionalText(row, 'reason');
    return { index, action: text(row, 'action') as RecordedDeletion['action'], ...(reason !== undefined ? { reason } : {}) };
  }

  /** All at once; the first decision recorded for an entry stays. */
  async recordDeletionDecisions(bundleDigest: Digest, decisions: readonly RecordedDeletion[]): Promise<void> {
    const insert = this.db.prepare(
      'INSERT INTO deletion_decisions (bundle_digest, idx, action, reason) VALUES (?, ?, ?, ?) ON CONFLICT (bundle_digest, idx) DO NOTHING',
    );
    transaction(this.db, () => {
      for (const d of decisions) insert.run(bundleDigest, d.index, d.action, d.reason ?? null);
    });
  }

  async recordAwaitedParts(blob: Digest, parts: readonly Digest[]): Promise<void> {
    const insert = this.db.prepare('INSERT INTO awaited_parts (part, blob) VALUES (?, ?) ON CONFLICT (part, blob) DO NOTHING');
    transaction(this.db, () => {
      for (const part of parts) insert.run(part, blob);
    });
  }

  async blobsAwaiting(part: Digest): Promise<Digest[]> {
    return this.db
      .prepare('SELECT blob FROM awaited_parts WHERE part = ? ORDER BY blob')
      .all(part)
      .map((row) => text(row, 'blob') as Digest);
  }

  async partsAwaitedBy(blob: Digest): Promise<Digest[]> {
    return this.db
      .prepare('SELECT part FROM awaited_parts WHERE blob = ? ORDER BY part')
      .all(blob)
      .map((row) => text(row, 'part') as Digest);
  }

  async forgetAwaitedParts(blob: Digest): Promise<void> {
    this.db.prepare('DELETE FROM awaited_parts WHERE blob = ?').run(blob);
  }

  async entryOutcome(bundleDigest: Digest, index: number): Promise<'imported' | 'present' | undefined> {
    const row = this.db
      .prepare('SELECT outcome FROM entry_outcomes WHERE bundle_digest = ? AND idx = ?')
      .get(bundleDigest, index);
    return row === undefined ? undefined : (text(row, 'outcome') as 'imported' | 'present');
  }

  /** The latest outcome for an entry wins (a re-run may find present what it imported before). */
  async recordEntryOutcome(bundleDigest: Digest, index: number, outcome: 'imported' | 'present'): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO entry_outcomes (bundle_digest, idx, outcome) VALUES (?, ?, ?)
         ON CONFLICT (bundle_digest, idx) DO UPDATE SET outcome = excluded.outcome`,
      )
      .run(bundleDigest, index, outcome);
  }

  /**
   * Idempotent: re-recording a bundle keeps its first import time. The chain only moves
   * forward, and from the new head on over bundles already imported out of sequence that
   * link onto it (see ImportState). All in one transaction.
   */
  async recordBundleImported(record: ImportedBundleRecord): Promise<void> {
    transaction(this.db, () => {
      this.db
        .prepare(
          `INSERT INTO bundles_imported (digest, source_id, sequence, imported_at, previous) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (digest) DO NOTHING`,
        )
        .run(record.digest, record.sourceId, record.sequence, record.importedAt, record.previous);
      if (!record.advancesChain) return;
      const advance = this.db.prepare(
        `INSERT INTO chain (source_id, sequence, digest) VALUES (?, ?, ?)
         ON CONFLICT (source_id) DO UPDATE SET sequence = excluded.sequence, digest = excluded.digest
         WHERE excluded.sequence > chain.sequence`,
      );
      const successor = this.db.prepare('SELECT sequence, digest FROM bundles_imported WHERE source_id = ? AND sequence = ? AND previous = ?');
      let head: { sequence: number; digest: string } | undefined = { sequence: record.sequence, digest: record.digest };
      while (head !== undefined) {
        if (Number(advance.run(record.sourceId, head.sequence, head.digest).changes) !== 1) return;
        const next: Row | undefined = successor.get(record.sourceId, head.sequence + 1, head.digest);
        head = next === undefined ? undefined : { sequence: integer(next, 'sequence'), digest: text(next, 'digest') };
      }
    });
  }
}
