/**
 * Sync definitions: the carried repositories of a serverless deployment, kept in its state
 * table and changed by API (`ferry definitions`, the definitions Function URL) instead of by
 * a redeploy. The embedded default keeps its config file as the one source. A definition is
 * validated by the deployment's repository schema (repositories.ts, the one `export.yaml`
 * and the CDK context use), so it is valid exactly when the same entry in the context is.
 *
 * The store is a port; its DynamoDB adapter is shared/adapters/aws/dynamo-definitions.ts.
 */
import * as z from 'zod';
import { issueMessage, issuePath } from '../issues.ts';
import { InvalidDefinitionError } from './errors.ts';
import { deployedRepositories } from './repositories.ts';

const { repository: repositorySchema } = deployedRepositories();

/** A carried repository as the deployment holds it (registry credentials named by secret ARN). */
export type RepositoryDefinition = z.output<typeof repositorySchema>;

/** How a change came in: the deployment's seed, the Function URL (IAM-authenticated) or the CLI. */
export type ChangeVia = 'seed' | 'api' | 'cli';

/** One repository's definition with its audit fields. */
export interface DefinitionRecord {
  name: string;
  definition: RepositoryDefinition;
  /** 1 when created (or seeded), one more per change, removal included: what If-Match names. */
  version: number;
  /** When it last changed; absent for a seeded one never changed since (CloudFormation's stack events say when). */
  updatedAt?: string | undefined;
  /** Who changed it last: the IAM caller's ARN (api), the stack's ARN (seed), the operator's name (cli). */
  updatedBy: string;
  via: ChangeVia;
  /** Set when removed: neither scanned nor fed by webhooks any more; the definition stays so queued copies finish. */
  removed?: { at: string; by: string; via: ChangeVia } | undefined;
}

/** A source's definitions as one read sees them. */
export interface Definitions {
  sourceId: string;
  /** One more per change of any definition. */
  revision: number;
  seeded: { by: string };
  /** In the order they were defined, removed ones included. */
  repositories: DefinitionRecord[];
}

/** One change, as the audit trail records it. */
export interface DefinitionChange {
  /** The definitions' revision this change made. */
  revision: number;
  repository: string;
  action: 'create' | 'update' | 'delete';
  /** The definition's version after the change. */
  version: number;
  at: string;
  by: string;
  via: ChangeVia;
  /** The definition after the change; for a delete, the one removed. */
  definition: RepositoryDefinition;
  /** For an update: the definition before it. */
  previous?: RepositoryDefinition | undefined;
}

/** Who makes a change, and the condition it is made on. */
export interface ChangeOptions {
  by: string;
  via: Exclude<ChangeVia, 'seed'>;
  /** Only if the definition is at this version now (HTTP If-Match). */
  ifVersion?: number | undefined;
  /** Only if there is no such definition now, or it was removed (HTTP If-None-Match: *). */
  ifAbsent?: boolean | undefined;
}

/** What a put did: `created` (new or defined again after a removal), `changed` false when it was already so. */
export interface PutOutcome {
  record: DefinitionRecord;
  created: boolean;
  changed: boolean;
}

/**
 * The definitions of one source. Every change is conditional on what it read, so two writers
 * never lose each other's change, and each change is recorded with who and when.
 */
export interface DefinitionStore {
  /** Every definition, removed ones included; throws DefinitionsNotSeededError when there are none at all. */
  read(): Promise<Definitions>;
  /** Creates or replaces the definition `input` describes (`name` is the one the request names, when it names one). */
  put(input: unknown, options: ChangeOptions & { name?: string | undefined }): Promise<PutOutcome>;
  /** Removes a definition: no new tasks for it; what was staged stays and is sealed. Returns it as removed. */
  remove(name: string, options: ChangeOptions): Promise<DefinitionRecord>;
  /** The audit trail, oldest first; of one repository when named. */
  history(repository?: string): Promise<DefinitionChange[]>;
}

/** The definitions in force: what scans and webhooks carry. */
export function activeDefinitions(definitions: Definitions): RepositoryDefinition[] {
  return definitions.repositories.filter((r) => r.removed === undefined).map((r) => r.definition);
}

/** Every definition, removed ones included: what a copy task queued before a removal still needs. */
export function allDefinitions(definitions: Definitions): RepositoryDefinition[] {
  return definitions.repositories.map((r) => r.definition);
}

/**
 * Validates one repository definition with the deployment's schema. `name`, the repository
 * the request names (a URL path, a CLI argument), fills a missing `name` and must match a
 * given one. Throws {@link InvalidDefinitionError} with one `field: problem` line per issue.
 */
export function parseDefinition(input: unknown, name?: string): RepositoryDefinition {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidDefinitionError(['(root): expected one repository definition (an object)']);
  const given = (input as { name?: unknown }).name;
  if (name !== undefined && given !== undefined && given !== name) {
    throw new InvalidDefinitionError([`name: ${JSON.stringify(given)} does not match the repository the request names (${JSON.stringify(name)})`]);
  }
  const parsed = repositorySchema.safeParse(name !== undefined && given === undefined ? { ...input, name } : input);
  if (parsed.success) return parsed.data;
  throw new InvalidDefinitionError(parsed.error.issues.map((issue) => `${issuePath(issue)}: ${issueMessage(issue)}`));
}

/**
 * Which registry secrets the deployed functions can read: every ARN starting with `prefix`
 * (the deploy's `registrySecretPrefix`), and the ARNs its context named.
 */
export interface RegistrySecretPolicy {
  prefix: string;
  arns: readonly string[];
}

/**
 * What is wrong with a definition's `registry.secretArn` under `policy`, if anything. A
 * secret the functions cannot read would be accepted, then fail every scan and copy with
 * AccessDenied, far from the change that caused it; so every writer refuses it (the API and
 * `ferry definitions put --table` alike).
 */
export function registrySecretProblem(secretArn: unknown, policy: RegistrySecretPolicy): string | undefined {
  if (typeof secretArn !== 'string') return undefined; // absent, or not text: the schema says what is wrong
  if (secretArn.startsWith(policy.prefix) || policy.arns.includes(secretArn)) return undefined;
  const named = policy.prefix.slice(policy.prefix.indexOf(':secret:') + ':secret:'.length);
  return (
    `registry.secretArn: the functions can read only secrets named ${named}… in this account and region, or those the deploy named; ` +
    `store the credentials as ${named}<name>, or add this secret to the repositories context and redeploy`
  );
}

/** The seed: each repository of the deployment's context at version 1, by `seededBy` (the stack). */
export function seedDefinitions(sourceId: string, repositories: readonly unknown[], seededBy: string): Definitions {
  const problems: string[] = [];
  const records: DefinitionRecord[] = [];
  for (const [index, repository] of repositories.entries()) {
    try {
      const definition = parseDefinition(repository);
      records.push({ name: definition.name, definition, version: 1, updatedBy: seededBy, via: 'seed' });
    } catch (error) {
      if (!(error instanceof InvalidDefinitionError)) throw error;
      problems.push(...error.problems.map((p) => `repositories[${index}].${p}`));
    }
  }
  const names = records.map((r) => r.name);
  for (const [index, name] of names.entries()) if (names.indexOf(name) !== index) problems.push(`repositories[${index}].name: ${name} is defined twice`);
  if (problems.length > 0) throw new InvalidDefinitionError(problems);
  return { sourceId, revision: 1, seeded: { by: seededBy }, repositories: records };
}
