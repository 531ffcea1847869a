/**
 * A state file written before the entry ledger's uniqueness rule changed (export state schema
 * version 5: one entry per source repository, path and digest) opens with the current code,
 * keeps every row, and then follows the current rule: content that something else (other
 * content, a tombstone) followed at its path can be staged again, an entry offered again while
 * it is its path's latest is still recorded once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteExportState } from '../shared/adapters/embedded/index.ts';
import { tombstoneFor } from '../shared/core/export/tombstones.ts';
import { sha256Of } from '../shared/digest.ts';
import { entry } from './contracts/export-state.ts';

/** The export state's tables as its five migrations up to schema version 5 left them. */
const VERSION_5 = `
  CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
  INSERT INTO schema_versions (component, version) VALUES ('export-state', 5);
  CREATE TABLE watermarks (repository TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE scan_checkpoints (repository TEXT PRIMARY KEY, json TEXT NOT NULL);
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
  CREATE TABLE shipped_blobs (digest TEXT PRIMARY KEY, bundle_sequence INTEGER NOT NULL, via TEXT NOT NULL CHECK (via IN ('bundle', 'receipt')));
  CREATE TABLE bundles (
    source_id TEXT NOT NULL, sequence INTEGER NOT NULL, digest TEXT NOT NULL, name TEXT NOT NULL,
    size INTEGER NOT NULL, sealed_at TEXT NOT NULL, PRIMARY KEY (source_id, sequence)
  );
  ALTER TABLE entries ADD COLUMN image_json TEXT;
  ALTER TABLE bundles ADD COLUMN published INTEGER NOT NULL DEFAULT 1;
  CREATE TABLE resend_requests (id INTEGER PRIMARY KEY AUTOINCREMENT, digest TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, from_json TEXT);
  ALTER TABLE entries RENAME COLUMN image_json TO detail_json;
`;

const v1 = entry('/a.jar', 'v1', { sha1: 'aa'.repeat(20) });
const other = entry('/b.jar', 'b');
const [c1, c2] = [entry('/c.jar', 'c1'), entry('/c.jar', 'c2')];

/**
 * Writes rows as the version-5 code did: v1 sealed in bundle 1, then its tombstone and /b.jar
 * pending; c1 sealed in bundle 1 and c2, which overwrote it at /c.jar, pending.
 */
function writeVersion5(file: string): void {
  const db = new DatabaseSync(file);
  db.exec(VERSION_5);
  const insert = db.prepare(
    `INSERT INTO entries (source_repository, path, target_repository, digest, size, sha1, kind, detail_json, state, bundle_sequence)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const tombstone = tombstoneFor(v1);
  insert.run(v1.sourceRepository, v1.path, v1.targetRepository, v1.digest, v1.size, v1.checksums.sha1!, 'raw', null, 'sealed', 1);
  insert.run(tombstone.sourceRepository, tombstone.path, tombstone.targetRepository, tombstone.digest, 0, null, 'tombstone', JSON.stringify(tombstone.detail), 'pending', null);
  insert.run(other.sourceRepository, other.path, other.targetRepository, other.digest, other.size, null, 'raw', null, 'pending', null);
  insert.run(c1.sourceRepository, c1.path, c1.targetRepository, c1.digest, c1.size, null, 'raw', null, 'sealed', 1);
  insert.run(c2.sourceRepository, c2.path, c2.targetRepository, c2.digest, c2.size, null, 'raw', null, 'pending', null);
  db.prepare("INSERT INTO bundles (source_id, sequence, digest, name, size, sealed_at) VALUES ('src', 1, ?, 'src-00000001.tar', 10, '2025-01-01T00:00:00.000Z')").run(sha256Of('bundle 1'));
  db.prepare("INSERT INTO shipped_blobs (digest, bundle_sequence, via) VALUES (?, 1, 'bundle')").run(v1.digest);
  db.close();
}

describe('export state written by schema version 5', () => {
  let dir: string;
  let file: string;
  let opened: SqliteExportState[];
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-migration-'));
    file = path.join(dir, 'state.db');
    opened = [];
    writeVersion5(file);
  });
  afterEach(async () => {
    for (const state of opened) state.close();
    await rm(dir, { recursive: true, force: true });
  });
  const open = (): SqliteExportState => {
    const state = new SqliteExportState(file);
    opened.push(state);
    return state;
  };

  it('opens and keeps its entries, bundles and shipped blobs', async () => {
    // Prepare: the file as version 5 left it

    // Act
    const state = open();
    const again = open();

    // Assess
    const pending = await again.listPendingEntries();
    expect(pending.map(({ seq, kind, path: at }) => ({ seq, kind, path: at }))).toEqual([
      { seq: 2, kind: 'tombstone', path: '/a.jar' },
      { seq: 3, kind: 'raw', path: '/b.jar' },
      { seq: 5, kind: 'raw', path: '/c.jar' },
    ]);
    expect(pending[0]!.detail).toEqual(tombstoneFor(v1).detail);
    expect(await state.latestEntries('raw-src', '/a.jar', { prefix: false })).toEqual([v1]);
    expect(await state.getLastBundle('src')).toMatchObject({ sequence: 1, published: true });
    expect(await state.shippedIn(v1.digest)).toBe(1);
    expect(await state.hasEntry('raw-src', '/b.jar', { sha256: other.digest.slice(7) })).toBe(true);
    const db = new DatabaseSync(file);
    const version = db.prepare("SELECT version FROM schema_versions WHERE component = 'export-state'").get();
    const eras = db.prepare('SELECT seq, era FROM entries ORDER BY seq').all().map((row) => [row.seq, row.era]);
    db.close();
    expect(Number(version?.version)).toBeGreaterThan(5);
    // Each entry's era: the latest entry before it at its path with other content (or a tombstone's other key), 0 if none
    expect(eras).toEqual([[1, 0], [2, 1], [3, 0], [4, 0], [5, 4]]);
  });

  it('then follows the current rule: a repeated tombstone once, content tombstoned before staged again', async () => {
    // Prepare
    const state = open();

    // Act
    const tombstoneAgain = await state.addPendingEntry(tombstoneFor(v1));
    const otherAgain = await state.addPendingEntry(other);
    const knownBefore = await state.hasEntry('raw-src', '/a.jar', { sha1: v1.checksums.sha1! });
    const stagedAgain = await state.addPendingEntry(v1);

    // Assess
    expect({ tombstoneAgain, otherAgain, knownBefore, stagedAgain }).toEqual({ tombstoneAgain: false, otherAgain: false, knownBefore: false, stagedAgain: true });
    const pending = await state.listPendingEntries();
    expect(pending.map((e) => [e.kind, e.path])).toEqual([['tombstone', '/a.jar'], ['raw', '/b.jar'], ['raw', '/c.jar'], ['raw', '/a.jar']]);
    expect(pending[3]!.seq).toBeGreaterThan(5);
  });

  it('then takes content back at a path after other content as new: recorded once, and what it replaced no longer known', async () => {
    // Prepare: c1 sealed, then c2 staged over it at /c.jar, both before the migration
    const state = open();

    // Act: c1's bytes come back
    const before = { c1: await state.hasEntry('raw-src', '/c.jar', { sha256: c1.digest.slice(7) }), c2: await state.hasEntry('raw-src', '/c.jar', { sha256: c2.digest.slice(7) }) };
    const restored = [await state.addPendingEntry(c1), await state.addPendingEntry(c1)];
    const after = { c1: await state.hasEntry('raw-src', '/c.jar', { sha256: c1.digest.slice(7) }), c2: await state.entryAt('raw-src', '/c.jar', { sha256: c2.digest.slice(7) }) };

    // Assess
    expect(before).toEqual({ c1: false, c2: true });
    expect(restored).toEqual([true, false]);
    const last = (await state.listPendingEntries()).at(-1)!;
    expect(last).toMatchObject({ path: '/c.jar', digest: c1.digest });
    expect(after).toEqual({ c1: true, c2: { known: false, latestSeq: last.seq } });
  });
});
