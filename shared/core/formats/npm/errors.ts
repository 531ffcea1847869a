/** Errors of the npm format: a packument that cannot be read, a tarball its packument does not describe. */
import { FerryError } from '../../../errors.ts';

/** The base of the npm format's errors. */
export class NpmError extends FerryError {
  override readonly name: string = 'NpmError';
}

/** A packument that is not the JSON npm clients read (`repository/name`, what is wrong with it). */
export class NpmPackumentError extends NpmError {
  override readonly name = 'NpmPackumentError';
  constructor(repository: string, name: string, problems: string[], options?: ErrorOptions) {
    super(`${repository}: the packument of ${name} is not one npm clients read: ${problems.join('; ')}`, options);
  }
}

/** A staged tarball whose bytes are not the ones its source packument's `dist.integrity` names: it is not carried. */
export class NpmIntegrityError extends NpmError {
  override readonly name = 'NpmIntegrityError';
  constructor(repository: string, path: string, coordinates: string, detail: string) {
    super(`${repository}${path}: not carried: the source's packument does not describe these bytes as ${coordinates} (${detail})`);
  }
}
