/** Errors of reading OCI documents, wherever they come from (a registry, a bundle, the ledger). */
import { FerryError } from '../errors.ts';

/**
 * An image manifest or index that is not what it should be: not JSON, fails its schema
 * (the problems name JSON field paths), or is of the wrong kind.
 */
export class OciDocumentError extends FerryError {
  override readonly name = 'OciDocumentError';
  /** What document, e.g. `library/alpine:3.20` or `repo@sha256:…`. */
  readonly where: string;
  readonly problems: string[];
  constructor(where: string, problems: string[], options?: { cause?: unknown }) {
    super(`${where}: bad manifest: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`, options);
    this.where = where;
    this.problems = problems;
  }
}
