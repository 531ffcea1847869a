/** Errors of the export side (scan, copy, seal). */
import { FerryError } from '../../errors.ts';

/** The base of the export side's errors. */
export class ExportError extends FerryError {
  override readonly name: string = 'ExportError';
}

/** An entry whose blob alone is bigger than the bundle size cap: it cannot be sealed. */
export class OversizedEntryError extends ExportError {
  override readonly name = 'OversizedEntryError';
  readonly repository: string;
  readonly path: string;
  constructor(repository: string, path: string, size: number, maxBytes: number) {
    super(`${repository}${path}: ${size} bytes does not fit in a bundle of at most ${maxBytes} bytes; raise bundles.maxBytes`);
    this.repository = repository;
    this.path = path;
  }
}

/** A staged blob being split into parts is shorter than its recorded size: it cannot be sealed. */
export class StagedPartError extends ExportError {
  override readonly name = 'StagedPartError';
  constructor(blob: string, offset: number, size: number) {
    super(`staged blob ${blob} ends before its part at offset ${offset} (recorded size ${size} bytes); stage it again`);
  }
}

/** A source asset whose path a target Nexus would refuse or rewrite: it cannot be carried. */
export class UncarriablePathError extends ExportError {
  override readonly name = 'UncarriablePathError';
  constructor(repository: string, path: string, problems: string[]) {
    super(`${repository}${JSON.stringify(path).slice(1, -1)}: not carried: the path ${problems.join(', ')} (a target Nexus would refuse or rewrite it)`);
  }
}

/** A configured repository that the source does not have, or has in another format. */
export class SourceMismatchError extends ExportError {
  override readonly name = 'SourceMismatchError';
  readonly repository: string;
  constructor(repository: string, problem: string) {
    super(`${repository}: ${problem}`);
    this.repository = repository;
  }
}

