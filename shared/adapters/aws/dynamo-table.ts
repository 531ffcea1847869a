/**
 * One DynamoDB table as Ferry's state adapters use it: consistent reads, paged queries,
 * batched gets with unprocessed keys retried, conditional writes that answer true/false,
 * transactions retried while only contention cancels them, and every other SDK failure as a
 * {@link StateStoreError} naming the operation and key (never a value).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { EntryNotPendingError, SequenceConflictError } from '../../core/ports/errors.ts';
import { backoff, cancellationCodes, isTransientCancellation, type Item, type Key } from './dynamo-keys.ts';
import { StateStoreError } from './errors.ts';

export type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/**
 * The CreateTable input of a Ferry state table: string keys `pk` (HASH) and `sk` (RANGE),
 * on-demand billing, and the keys-only secondary indexes named (sparse: `<name>pk` / `<name>sk`
 * attributes only on the items meant to be listed). The tests create tables with it; the CDK
 * stacks declare the same keys (infra tests compare them).
 */
export function stateTableInput(table: string, indexes: { name: string; attribute: string }[] = []): CreateTableCommandInput {
  const key = (hash: string, range: string) => [
    { AttributeName: hash, KeyType: 'HASH' as const },
    { AttributeName: range, KeyType: 'RANGE' as const },
  ];
  return {
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: ['pk', 'sk', ...indexes.flatMap((i) => [`${i.attribute}pk`, `${i.attribute}sk`])].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
    KeySchema: key('pk', 'sk'),
    ...(indexes.length > 0
      ? { GlobalSecondaryIndexes: indexes.map((i) => ({ IndexName: i.name, KeySchema: key(`${i.attribute}pk`, `${i.attribute}sk`), Projection: { ProjectionType: 'KEYS_ONLY' as const } })) }
      : {}),
  };
}

export class DynamoTable {
  readonly client: DynamoDBDocumentClient;
  readonly table: string;

  constructor(client: DynamoDBDocumentClient, table: string) {
    this.client = client;
    this.table = table;
  }

  async get(key: Key): Promise<Item | undefined> {
    const result = await this.call('GetItem', `${key.pk} ${key.sk}`, () =>
      this.client.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true })),
    );
    return result.Item;
  }

  async *query(input: QueryCommandInput): AsyncIterable<Item> {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.call('Query', String(input.ExpressionAttributeValues?.[':pk']), () =>
        this.client.send(new QueryCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) })),
      );
      for (const item of page.Items ?? []) yield item;
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
  }

  /** Consistent reads of many items, 100 keys a call, unprocessed keys retried with backoff. */
  async batchGet(list: Key[]): Promise<Item[]> {
    const found: Item[] = [];
    for (let i = 0; i < list.length; i += 100) {
      let request: Key[] = list.slice(i, i + 100);
      for (let attempt = 0; request.length > 0; attempt++) {
        if (attempt > 0) await sleep(backoff(attempt));
        if (attempt > 8) throw new StateStoreError(this.table, 'BatchGetItem', `${request.length} keys`, { cause: new Error('keys left unprocessed') });
        const result = await this.call('BatchGetItem', `${request.length} keys`, () =>
          this.client.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: request, ConsistentRead: true } } })),
        );
        found.push(...(result.Responses?.[this.table] ?? []));
        request = (result.UnprocessedKeys?.[this.table]?.Keys ?? []) as Key[];
      }
    }
    return found;
  }

  /** True if the conditional write happened, false if its condition failed. */
  async conditional(operation: string, key: Key, run: () => Promise<unknown>): Promise<boolean> {
    try {
      await this.call(operation, `${key.pk} ${key.sk}`, run);
      return true;
    } catch (error) {
      if ((error as Error | undefined)?.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /**
   * Runs one SDK call. Condition failures and cancelled transactions pass through for the
   * caller to interpret; anything else (throttling that outlived the SDK's own retries,
   * validation, access) becomes a {@link StateStoreError} naming the operation and key.
   */
  async call<T>(operation: string, key: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const name = (error as Error | undefined)?.name;
      if (name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException') throw error;
      throw wrap(this.table, operation, key, error);
    }
  }

  /**
   * A transaction, retried (bounded, with backoff) while it is cancelled only because of
   * contention — another transaction on the same items, or throttling. A cancellation
   * with a failed condition is thrown for the caller to map to a domain outcome.
   */
  async transact(operation: string, key: string, items: NonNullable<TransactWriteCommandInput['TransactItems']>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.call(operation, key, () => this.client.send(new TransactWriteCommand({ TransactItems: items })));
        return;
      } catch (error) {
        const codes = cancellationCodes(error);
        const transient = codes.length > 0 && codes.every((code) => code === 'None' || isTransientCancellation(code));
        if (!transient) throw error;
        if (attempt >= 8) throw wrap(this.table, operation, key, error);
        await sleep(backoff(attempt + 1));
      }
    }
  }
}

export function wrap(table: string, operation: string, key: string, error: unknown): Error {
  if (error instanceof StateStoreError || error instanceof SequenceConflictError || error instanceof EntryNotPendingError) return error;
  return new StateStoreError(table, operation, key, { cause: error });
}
