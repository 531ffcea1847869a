/**
 * The embedded state database: one SQLite file (node:sqlite, no native dependency).
 *
 * Several adapters (export state, task queue) may share one file, each through its own
 * connection or a shared one. All statements are synchronous and no transaction spans an
 * `await`, so a connection never holds a lock while the event loop runs other work.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type SQLOutputValue, type StatementSync } from 'node:sqlite';
import { SchemaVersionError } from './errors.ts';

/** How long a writer waits for another connection's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 10_000;

/**
 * Opens (creating if needed) a state database tuned for durability: WAL journal with
 * `synchronous=FULL`, so a transaction that has returned survives a power cut or kill -9
 * (an acknowledged enqueue is never lost); a busy timeout so concurrent processes wait
 * for each other instead of failing; foreign keys enforced.
 *
 * On Node 24.21 `node:sqlite` no longer prints an ExperimentalWarning (it did on 22.x);
 * nothing is suppressed here either way.
 */
export function openDatabase(file: string): DatabaseSync {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS, enableForeignKeyConstraints: true });
  try {
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    db.exec('PRAGMA foreign_keys = ON');
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/**
 * Runs `fn` in a write transaction (`BEGIN IMMEDIATE`: the write lock is taken up front,
 * so a read-then-write cannot be overtaken by another connection). Nested calls become
 * savepoints. `fn` must be synchronous: a transaction never spans an await.
 */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  if (db.isTransaction) {
    const name = `sp_${++savepointCounter}`;
    db.exec(`SAVEPOINT ${name}`);
    try {
      const result = fn();
      db.exec(`RELEASE ${name}`);
      return result;
    } catch (error) {
      db.exec(`ROLLBACK TO ${name}`);
      db.exec(`RELEASE ${name}`);
      throw error;
    }
  }
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
let savepointCounter = 0;

/**
 * Brings one component's tables up to date. `migrations[i]` takes the component from
 * version i to i+1; each runs in its own transaction together with the version bump.
 *
 * Versions are kept per component in a `schema_versions` table rather than in
 * `PRAGMA user_version`: several adapters share one file, and a single file-wide
 * counter would let one component's version hide another's missing tables.
 */
export function migrate(db: DatabaseSync, component: string, migrations: readonly string[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  transaction(db, () => {
    const row = db.prepare('SELECT version FROM schema_versions WHERE component = ?').get(component);
    const current = row === undefined ? 0 : Number(row.version);
    if (current > migrations.length) {
      throw new SchemaVersionError(databaseName(db), component, current, migrations.length);
    }
    for (let version = current; version < migrations.length; version++) {
      db.exec(migrations[version]!);
    }
    if (current < migrations.length) {
      db.prepare(
        'INSERT INTO schema_versions (component, version) VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version',
      ).run(component, migrations.length);
    }
  });
}

function databaseName(db: DatabaseSync): string {
  try {
    const row = db.prepare("SELECT file FROM pragma_database_list WHERE name = 'main'").get();
    return typeof row?.file === 'string' && row.file !== '' ? row.file : ':memory:';
  } catch {
    return 'state database';
  }
}

// ───────────── row accessors: node:sqlite returns loosely typed rows ─────────────

export type Row = Record<string, SQLOutputValue>;

export function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw new TypeError(`column ${column}: expected text, got ${typeof value}`);
  return value;
}

export function optionalText(row: Row, column: string): string | undefined {
  const value = row[column];
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'string') throw new TypeError(`column ${column}: expected text, got ${typeof value}`);
  return value;
}

export function integer(row: Row, column: string): number {
  const value = row[column];
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  throw new TypeError(`column ${column}: expected integer, got ${value === null ? 'null' : typeof value}`);
}

export function optionalInteger(row: Row, column: string): number | undefined {
  const value = row[column];
  if (value === null || value === undefined) return undefined;
  return integer(row, column);
}

/** Accepts either an open database (shared, not closed by us) or a file path (opened and owned). */
export function useDatabase(db: DatabaseSync | string): { db: DatabaseSync; owned: boolean } {
  return typeof db === 'string' ? { db: openDatabase(db), owned: true } : { db, owned: false };
}

/**
 * One component's tables in a state database: opened (or shared) and migrated on
 * construction; `close` closes the database only when this component opened it.
 */
export class SqliteComponent {
  readonly db: DatabaseSync;
  readonly #owned: boolean;
  readonly #statements = new Map<string, StatementSync>();

  /** `db`: an open database (shared with other components) or a file path to open. */
  constructor(db: DatabaseSync | string, component: string, migrations: readonly string[]) {
    const used = useDatabase(db);
    this.db = used.db;
    this.#owned = used.owned;
    migrate(this.db, component, migrations);
  }

  /**
   * A prepared statement, compiled once per instance: a scan asks whether it has an entry for
   * every asset it lists, and compiling the SQL each time cost more than the lookup.
   */
  protected prepared(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Closes the database if this instance opened it. */
  close(): void {
    if (this.#owned && this.db.isOpen) this.db.close();
  }
}
