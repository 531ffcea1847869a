/** Errors raised while loading configuration. The CLI maps every one of them to exit code 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The config file the problem is in. */
  readonly file: string;
  /** One line per problem, each naming the field path, e.g. `source.repositories[2].name: required`. */
  readonly problems: string[];
  constructor(file: string, problems: string[], options?: { cause?: unknown }) {
    super(`${file}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`, options);
    this.file = file;
    this.problems = problems;
  }
}

/** A credential named by the config (environment variable or file) could not be read. */
export class CredentialError extends Error {
  override readonly name = 'CredentialError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
