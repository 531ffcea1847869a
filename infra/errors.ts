import { FerryError } from '../shared/errors.ts';

/** Errors raised while building Ferry's CDK app: bad stack props or context values. */
export class InfraConfigError extends FerryError {
  override readonly name = 'InfraConfigError';
  /** One line per problem, each naming the prop or context key, e.g. `repositories[1].format: must be "raw"`. */
  readonly problems: string[];
  constructor(where: string, problems: string[], options?: { cause?: unknown }) {
    super(`${where}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`, options);
    this.problems = problems;
  }
}
