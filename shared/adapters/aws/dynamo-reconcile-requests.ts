/**
 * Reconcile requests (layout in `dynamo-export-state.ts`): a deletion Nexus reported without
 * naming what (a PURGED event's bare ids) asks for the repository's full reconcile, which the
 * next scheduled scan runs. One item per repository, `SOURCE#<sid>` / `RECONCILE#<repository>`,
 * holding the latest request's time: a request that comes while the reconcile runs is newer,
 * so clearing the one it ran for leaves it for the next scan.
 */
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from './dynamo-keys.ts';
import type { DynamoTable } from './dynamo-table.ts';

const PREFIX = 'RECONCILE#';
const requestKey = (sourceId: string, repository: string) => ({ pk: keys.source(sourceId), sk: `${PREFIX}${repository}` });

export async function requestReconcile(t: DynamoTable, sourceId: string, repository: string, requestedAt: string): Promise<void> {
  const key = requestKey(sourceId, repository);
  // Only ever later: two deliveries racing keep the newer time.
  await t.conditional('PutItem', key, () =>
    t.client.send(
      new PutCommand({
        TableName: t.table,
        Item: { ...key, repository, requestedAt },
        ConditionExpression: 'attribute_not_exists(pk) OR requestedAt < :at',
        ExpressionAttributeValues: { ':at': requestedAt },
      }),
    ),
  );
}

export async function reconcileRequests(t: DynamoTable, sourceId: string): Promise<{ repository: string; requestedAt: string }[]> {
  const requests: { repository: string; requestedAt: string }[] = [];
  const items = t.query({
    TableName: t.table,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :reconcile)',
    ExpressionAttributeValues: { ':pk': keys.source(sourceId), ':reconcile': PREFIX },
    ConsistentRead: true,
  });
  for await (const item of items) requests.push({ repository: String(item.repository), requestedAt: String(item.requestedAt) });
  return requests;
}

export async function clearReconcileRequest(t: DynamoTable, sourceId: string, repository: string, requestedAt: string): Promise<void> {
  const key = requestKey(sourceId, repository);
  await t.conditional('DeleteItem', key, () =>
    t.client.send(new DeleteCommand({ TableName: t.table, Key: key, ConditionExpression: 'requestedAt = :at', ExpressionAttributeValues: { ':at': requestedAt } })),
  );
}
