/**
 * The formats Ferry carries. Adding one is a module implementing FormatModule (format.ts)
 * plus its line here; scan, seal and the importer find it through these lookups.
 */
import type { CopyTask } from '../ports/index.ts';
import { dockerFormat } from './docker/index.ts';
import type { FormatModule } from './format.ts';
import { helmFormat } from './helm/index.ts';
import { maven2Format } from './maven2/index.ts';
import { npmFormat } from './npm/index.ts';
import { nugetFormat } from './nuget/index.ts';
import { pypiFormat } from './pypi/index.ts';
import { rawFormat } from './raw/index.ts';
import { tombstoneFormat } from './tombstone/index.ts';

// Tombstones last: they apply after the bundle's writes (a path deleted and written again in one bundle ends written).
export const FORMATS: readonly FormatModule[] = [rawFormat, dockerFormat, helmFormat, maven2Format, npmFormat, nugetFormat, pypiFormat, tombstoneFormat];

function lookup(what: string, value: string, pick: (f: FormatModule) => boolean): FormatModule {
  const found = FORMATS.find(pick);
  if (found === undefined) throw new Error(`no format module for ${what} ${JSON.stringify(value)}`);
  return found;
}

/** The module of a repository format (`raw`, `docker`). */
export const formatOf = (format: string): FormatModule => lookup('repository format', format, (f) => f.format === format);
/** The module that writes and reads bundle entries of this kind. */
export const formatOfEntry = (entry: { kind: string }): FormatModule => lookup('entry kind', entry.kind, (f) => f.entryKind === entry.kind);
/** The module that stages tasks of this kind. */
export const formatOfTask = (task: Pick<CopyTask, 'kind'>): FormatModule => lookup('task kind', task.kind, (f) => f.taskKinds.includes(task.kind));

export type { CopyOutcome, DeletionDecision, ExportDeps, FormatModule, ImportDeps, PlannedEntry, TargetRegistry } from './format.ts';
export type { DockerRepository, RawRepository, ScanRepository } from './repositories.ts';
