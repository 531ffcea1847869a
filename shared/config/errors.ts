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

/**
 * A repository definition (sync definitions, managed by API on the serverless deployment)
 * that the carried-repository schema refuses: one problem per field, as for a config file.
 */
export class InvalidDefinitionError extends ConfigError {
  override readonly name = 'InvalidDefinitionError';
  constructor(problems: string[], options?: { cause?: unknown }) {
    super(undefined, problems, options);
  }
}

/** The base of the definition store's refusals other than an invalid definition. */
export class DefinitionError extends FerryError {
  override readonly name: string = 'DefinitionError';
}

/** No such repository among the definitions (or it was removed). */
export class DefinitionNotFoundError extends DefinitionError {
  override readonly name = 'DefinitionNotFoundError';
  readonly repository: string;
  constructor(repository: string) {
    super(`no repository ${repository} is defined`);
    this.repository = repository;
  }
}

/** A conditional change (If-Match / If-None-Match) whose condition does not hold: someone changed it first. */
export class DefinitionVersionError extends DefinitionError {
  override readonly name = 'DefinitionVersionError';
  readonly repository: string;
  /** The definition's version now; undefined when there is none. */
  readonly current: number | undefined;
  constructor(repository: string, expected: string, current: number | undefined) {
    super(`${repository}: expected ${expected}, but ${current === undefined ? 'it is not defined' : `it is at version ${current}`}`);
    this.repository = repository;
    this.current = current;
  }
}

/** The table holds no definitions for this source: a wrong table or source id, or a deployment that never seeded them. */
export class DefinitionsNotSeededError extends DefinitionError {
  override readonly name = 'DefinitionsNotSeededError';
  constructor(where: string, sourceId: string) {
    super(`${where} holds no repository definitions for source ${sourceId}: check the table and source id (the export stack seeds them at its first deploy)`);
  }
}

/** The CLI could not learn its caller's AWS identity, which a change records as who made it. */
export class DefinitionsCallerError extends DefinitionError {
  override readonly name = 'DefinitionsCallerError';
  constructor(cause: unknown) {
    super(`cannot record who makes this change: STS GetCallerIdentity failed (${cause instanceof Error ? cause.message : String(cause)}); check the AWS credentials, or name yourself with --actor`, { cause });
  }
}
