/**
 * Sync definitions in the export side's state table: the DynamoDB adapter of the
 * DefinitionStore port (shared/config/definitions.ts).
 *
 * | pk                  | sk                  | attributes                                                     |
 * |---------------------|---------------------|----------------------------------------------------------------|
 * | `DEFINITIONS`       | `SOURCE#<sid>`      | sourceId, revision, seededBy, repositories: [{name, definition, version, updatedAt?, updatedBy, via, removed?}] |
 * | `DEFINITIONS#<sid>` | `CHANGE#<revision>` | one per change: repository, action, version, at, by, via, definition, previous? |
 * | `DEFINITIONS#<sid>` | `POLICY#registry-secrets` | prefix, arns: the registry secrets the functions can read (written at each deploy) |
 *
 * One item holds a source's definitions, so a function reads them with one consistent
 * GetItem per invocation; the seed is one PutItem conditional on the item being absent
 * (infra/definitions.ts sends exactly {@link seedPutItemInput} at deploy); and a change is one
 * transaction: the item, conditional on the revision it was read at, and its change record.
 * Every source's item shares one partition key, so a table's sources can be listed.
 */
import type { PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import {
  parseDefinition,
  registrySecretProblem,
  type RegistrySecretPolicy,
  type ChangeOptions,
  type DefinitionChange,
  type DefinitionRecord,
  type Definitions,
  type DefinitionStore,
  type PutOutcome,
  type RepositoryDefinition,
} from '../../config/definitions.ts';
import { DefinitionNotFoundError, DefinitionsNotSeededError, DefinitionVersionError, InvalidDefinitionError } from '../../config/errors.ts';
import { backoff, cancellationCodes, pad, type Item, type Key } from './dynamo-keys.ts';
import { StateStoreError } from './errors.ts';
import { DynamoTable } from './dynamo-table.ts';

export const DEFINITIONS_PK = 'DEFINITIONS';
const currentKey = (sourceId: string): Key => ({ pk: DEFINITIONS_PK, sk: `SOURCE#${sourceId}` });
const changesPk = (sourceId: string) => `DEFINITIONS#${sourceId}`;
const changeKey = (sourceId: string, revision: number): Key => ({ pk: changesPk(sourceId), sk: `CHANGE#${pad(revision)}` });
const secretPolicyKey = (sourceId: string): Key => ({ pk: changesPk(sourceId), sk: 'POLICY#registry-secrets' });

/** Writers that lost the race read again and retry; this many times at most. */
const MAX_ATTEMPTS = 8;

export interface DynamoDefinitionStoreOptions {
  client: DynamoDBDocumentClient;
  table: string;
  sourceId: string;
  /** The clock changes are stamped with (tests set it). */
  now?: () => Date;
}

/** Plain JSON: no undefined members, whatever the client's marshalling options. */
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The item holding `definitions` (what the seed writes). */
export function definitionsItem(definitions: Definitions): Item {
  const { sourceId, revision, seeded, repositories } = definitions;
  return plain({ ...currentKey(sourceId), sourceId, revision, seededBy: seeded.by, repositories });
}

/**
 * The seed as one low-level PutItem: written only while the source has no definitions item,
 * so a redeploy never overwrites what the API changed since. The CDK custom resource sends
 * exactly this and ignores its ConditionalCheckFailedException.
 */
export function seedPutItemInput(table: string, definitions: Definitions): PutItemCommandInput {
  return { TableName: table, Item: marshall(definitionsItem(definitions)), ConditionExpression: 'attribute_not_exists(pk)' };
}

/**
 * The deploy's registry secret policy as one low-level PutItem, unconditional: it follows the
 * deploy's `registrySecretPrefix` and context (infra/definitions.ts sends exactly this at
 * each deploy). Every writer of definitions checks a `registry.secretArn` against it.
 */
export function secretPolicyPutItemInput(table: string, sourceId: string, policy: RegistrySecretPolicy): PutItemCommandInput {
  return { TableName: table, Item: marshall({ ...secretPolicyKey(sourceId), prefix: policy.prefix, arns: [...policy.arns] }) };
}

/** The source ids that have definitions in `table`. */
export async function definitionSources(client: DynamoDBDocumentClient, table: string): Promise<string[]> {
  const t = new DynamoTable(client, table);
  const sources: string[] = [];
  const items = t.query({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': DEFINITIONS_PK }, ProjectionExpression: 'sourceId', ConsistentRead: true });
  for await (const item of items) sources.push(String(item.sourceId));
  return sources;
}

export class DynamoDefinitionStore implements DefinitionStore {
  readonly table: string;
  readonly sourceId: string;
  readonly #t: DynamoTable;
  readonly #now: () => Date;

  constructor(options: DynamoDefinitionStoreOptions) {
    this.table = options.table;
    this.sourceId = options.sourceId;
    this.#t = new DynamoTable(options.client, options.table);
    this.#now = options.now ?? (() => new Date());
  }

  /** Writes `definitions` unless the source has definitions already; true if it did. */
  async seed(definitions: Definitions): Promise<boolean> {
    const key = currentKey(this.sourceId);
    return this.#t.conditional('PutItem', key, () =>
      this.#t.client.send(new PutCommand({ TableName: this.table, Item: definitionsItem(definitions), ConditionExpression: 'attribute_not_exists(pk)' })),
    );
  }

  async read(): Promise<Definitions> {
    const { item } = await this.#readItem();
    return {
      sourceId: this.sourceId,
      revision: Number(item.revision),
      seeded: { by: String(item.seededBy) },
      repositories: records(item).map((r) => ({ ...r, definition: storedDefinition(r.name, r.definition) })),
    };
  }

  async put(input: unknown, options: ChangeOptions & { name?: string | undefined }): Promise<PutOutcome> {
    const definition = parseDefinition(input, options.name);
    await this.#checkRegistrySecret(definition);
    return this.#change<PutOutcome>(definition.name, options, (current, at) => {
      const active = current !== undefined && current.removed === undefined;
      if (options.ifAbsent && active) throw new DefinitionVersionError(definition.name, 'no definition (If-None-Match: *)', current.version);
      if (active && isDeepStrictEqual(plain(current.definition), plain(definition))) return { outcome: { record: { ...current, definition }, created: false, changed: false } };
      const record: DefinitionRecord = { name: definition.name, definition, version: (current?.version ?? 0) + 1, updatedAt: at, updatedBy: options.by, via: options.via };
      const change = { action: active ? ('update' as const) : ('create' as const), definition, ...(active ? { previous: current.definition as RepositoryDefinition } : {}) };
      return { record, change, outcome: { record, created: !active, changed: true } };
    });
  }

  async remove(name: string, options: ChangeOptions): Promise<DefinitionRecord> {
    return this.#change<DefinitionRecord>(name, options, (current, at) => {
      if (current === undefined || current.removed !== undefined) throw new DefinitionNotFoundError(name);
      const record: DefinitionRecord = { ...current, definition: current.definition as RepositoryDefinition, version: current.version + 1, removed: { at, by: options.by, via: options.via } };
      return { record, change: { action: 'delete' as const, definition: record.definition }, outcome: record };
    });
  }

  async history(repository?: string): Promise<DefinitionChange[]> {
    const changes: DefinitionChange[] = [];
    const items = this.#t.query({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :change)',
      ExpressionAttributeValues: { ':pk': changesPk(this.sourceId), ':change': 'CHANGE#' },
      ConsistentRead: true,
    });
    for await (const item of items) {
      if (repository !== undefined && item.repository !== repository) continue;
      const { pk: _pk, sk: _sk, ...change } = item;
      changes.push(change as unknown as DefinitionChange);
    }
    return changes;
  }

  /** A table the deploy wrote no policy into (a stack older than it) is not checked here. */
  async #checkRegistrySecret(definition: RepositoryDefinition): Promise<void> {
    const secretArn = (definition as { registry?: { secretArn?: unknown } }).registry?.secretArn;
    if (secretArn === undefined) return;
    const item = await this.#t.get(secretPolicyKey(this.sourceId));
    if (item === undefined) return;
    const problem = registrySecretProblem(secretArn, { prefix: String(item.prefix), arns: (item.arns as string[] | undefined) ?? [] });
    if (problem !== undefined) throw new InvalidDefinitionError([problem]);
  }

  async #readItem(): Promise<{ item: Item }> {
    const item = await this.#t.get(currentKey(this.sourceId));
    if (item === undefined) throw new DefinitionsNotSeededError(`DynamoDB table ${this.table}`, this.sourceId);
    return { item };
  }

  /**
   * Reads the definitions, lets `decide` make the new record of `name` (or throw), and writes
   * it with its change record, conditional on the revision read. Another writer in between:
   * read again and decide again, so a condition (If-Match) is checked against what is stored.
   */
  async #change<O>(
    name: string,
    options: ChangeOptions,
    decide: (current: StoredRecord | undefined, at: string) => { outcome: O; record?: DefinitionRecord; change?: Pick<DefinitionChange, 'action' | 'definition' | 'previous'> },
  ): Promise<O> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) await sleep(backoff(attempt));
      const { item } = await this.#readItem();
      const list = records(item);
      const current = list.find((r) => r.name === name);
      const active = current !== undefined && current.removed === undefined;
      if (options.ifVersion !== undefined && (!active || current.version !== options.ifVersion)) {
        throw new DefinitionVersionError(name, `version ${options.ifVersion} (If-Match)`, active ? current.version : undefined);
      }
      const at = this.#now().toISOString();
      const { outcome, record, change } = decide(current, at);
      if (record === undefined || change === undefined) return outcome;
      const revision = Number(item.revision) + 1;
      const repositories: StoredRecord[] = current === undefined ? [...list, record] : list.map((r) => (r.name === name ? record : r));
      const changeItem = { ...changeKey(this.sourceId, revision), revision, repository: name, version: record.version, at, by: options.by, via: options.via, ...change };
      try {
        await this.#t.transact('TransactWriteItems', `${DEFINITIONS_PK} ${name}`, [
          {
            Put: {
              TableName: this.table,
              Item: plain({ ...item, revision, repositories }),
              ConditionExpression: 'revision = :read',
              ExpressionAttributeValues: { ':read': Number(item.revision) },
            },
          },
          { Put: { TableName: this.table, Item: plain(changeItem), ConditionExpression: 'attribute_not_exists(pk)' } },
        ]);
        return outcome;
      } catch (error) {
        if (!cancellationCodes(error).includes('ConditionalCheckFailed')) throw error;
      }
    }
    throw new StateStoreError(this.table, 'TransactWriteItems', `${DEFINITIONS_PK} ${name}`, { cause: new Error(`the definitions kept changing under ${MAX_ATTEMPTS} attempts`) });
  }
}

/** A record as stored: its definition not yet validated again. */
type StoredRecord = Omit<DefinitionRecord, 'definition'> & { definition: unknown };

function records(item: Item): StoredRecord[] {
  return (item.repositories as StoredRecord[] | undefined) ?? [];
}

/** A stored definition, checked again: the table may have been edited by hand. */
function storedDefinition(name: string, stored: unknown): RepositoryDefinition {
  try {
    return parseDefinition(stored, name);
  } catch (error) {
    if (!(error instanceof InvalidDefinitionError)) throw error;
    throw new InvalidDefinitionError(error.problems.map((p) => `stored definition of ${name}: ${p}`), { cause: error });
  }
}
