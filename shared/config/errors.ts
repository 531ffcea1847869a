/** Errors raised while loading configuration. The CLI maps every one of them to exit code 2. */
import { FerryError } from '../errors.ts';

/**
 * The base of the config module's errors, and itself a config file Ferry cannot run with:
 * names the file and each field at fault.
 */
export class ConfigError extends FerryError {
  override readonly name: string = 'ConfigError';
  /** The config file the problem is in; undefined when it lies outside the file (a credential it names). */
  readonly file: string | undefined;
  /** One line per problem, each naming the field path, e.g. `source.repositories[2].name: required`. */
  readonly problems: string[];
  constructor(file: string | undefined, problems: string[], options?: { cause?: unknown }) {
    super(file === undefined ? problems.join('\n') : `${file}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`, options);
    this.file = file;
    this.problems = problems;
  }
}

/** A credential named by the config (environment variable or file) could not be read. */
export class CredentialError extends ConfigError {
  override readonly name: string = 'CredentialError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(undefined, [message], options);
  }
}
