/**
 * The idempotency store of the functions that are idempotent (webhook, copy). Apart from
 * wiring.ts: a bundle keeps the persistence layer of any module it imports, and the other
 * functions have no use for it.
 */
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { dynamoClient } from './wiring.ts';

/**
 * A Powertools idempotency store on `table` (partition key `id`, TTL attribute
 * `expiration`). One per idempotent function: a store keeps the first key prefix it is
 * configured with, and the prefix keeps e.g. a webhook's task keys apart from copy's.
 */
export function idempotencyStore(table: string): DynamoDBPersistenceLayer {
  return new DynamoDBPersistenceLayer({ tableName: table, awsSdkV3Client: dynamoClient() });
}
