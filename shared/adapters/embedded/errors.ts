/**
 * Errors raised by the embedded adapters themselves (directory object store, SQLite state
 * and queue). The errors the ports promise are the core's (`core/ports/errors.ts`).
 */
import { StateError } from '../../core/ports/errors.ts';

/** A state database whose schema is newer than this build of Ferry understands. */
export class SchemaVersionError extends StateError {
  override readonly name = 'SchemaVersionError';
  constructor(file: string, component: string, found: number, known: number) {
    super(`${file}: ${component} schema version ${found} is newer than this Ferry supports (${known}); upgrade Ferry`);
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A bundle file replaced or changed between its verification and a later read of part of it. */
export class BundleFileChangedError extends StateError {
  override readonly name = 'BundleFileChangedError';
  constructor(file: string) {
    super(`${file} changed since it was verified (another file in its place, or its size or time changed); nothing more is read from it — import it again`);
  }
}
