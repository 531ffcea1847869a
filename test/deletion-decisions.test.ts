/**
 * The tombstone decisions an import records before its first deletion (ImportState
 * `recordDeletionDecisions` / `deletionDecision`), against both durable import states:
 * SQLite (the CLI) and DynamoDB Local (the import Lambda). Read back by a restarted import,
 * and the first decision recorded for an entry stays.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { SqliteImportState } from '../shared/adapters/embedded/index.ts';
import { createImportTableInput, DynamoImportState } from '../shared/adapters/aws/dynamo-import-state.ts';
import type { ImportState } from '../shared/core/ports/index.ts';
import { sha256Of } from '../shared/digest.ts';
import { makeDynamoClient } from './support/emulators.ts';

type Decisions = Required<Pick<ImportState, 'deletionDecision' | 'recordDeletionDecisions'>>;

interface Harness {
  state: Decisions;
  /** Another instance on the same storage, as a re-run of the import opens it. */
  reopen(): Promise<Decisions>;
  close(): Promise<void>;
}

const BUNDLE = sha256Of('bundle 2');
const OTHER = sha256Of('bundle 3');

function decisionsSpec(name: string, makeHarness: () => Promise<Harness>): void {
  describe(name, () => {
    it('reads back every recorded decision after a restart, with its reason, and nothing for other entries or bundles', async () => {
      // Prepare
      const harness = await makeHarness();
      try {
        // Act
        await harness.state.recordDeletionDecisions(BUNDLE, [{ index: 0, action: 'delete' }, { index: 3, action: 'keep', reason: 'changed on the target since Ferry imported it' }]);
        const reopened = await harness.reopen();

        // Assess
        expect(await reopened.deletionDecision(BUNDLE, 0)).toEqual({ index: 0, action: 'delete' });
        expect(await reopened.deletionDecision(BUNDLE, 3)).toEqual({ index: 3, action: 'keep', reason: 'changed on the target since Ferry imported it' });
        expect(await reopened.deletionDecision(BUNDLE, 1)).toBeUndefined();
        expect(await reopened.deletionDecision(OTHER, 0)).toBeUndefined();
      } finally {
        await harness.close();
      }
    });

    it('keeps the first decision recorded for an entry when a re-run records again', async () => {
      // Prepare
      const harness = await makeHarness();
      try {
        await harness.state.recordDeletionDecisions(BUNDLE, [{ index: 0, action: 'keep', reason: 'Ferry did not import it on this target' }]);

        // Act
        await harness.state.recordDeletionDecisions(BUNDLE, [{ index: 0, action: 'delete' }, { index: 1, action: 'delete' }]);

        // Assess
        expect(await harness.state.deletionDecision(BUNDLE, 0)).toEqual({ index: 0, action: 'keep', reason: 'Ferry did not import it on this target' });
        expect(await harness.state.deletionDecision(BUNDLE, 1)).toEqual({ index: 1, action: 'delete' });
      } finally {
        await harness.close();
      }
    });
  });
}

decisionsSpec('SqliteImportState', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-decisions-'));
  const file = path.join(dir, 'import.db');
  const instances = [new SqliteImportState(file)];
  return {
    state: instances[0]!,
    reopen: async () => {
      instances[0]!.close();
      instances.push(new SqliteImportState(file));
      return instances.at(-1)!;
    },
    close: async () => {
      for (const instance of instances) instance.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

decisionsSpec('DynamoImportState', async () => {
  const client = makeDynamoClient(inject('dynamoEndpoint'));
  const table = `ferry-decisions-${randomUUID()}`;
  await client.send(new CreateTableCommand(createImportTableInput(table)));
  return {
    state: new DynamoImportState({ client, table }),
    reopen: async () => new DynamoImportState({ client, table }),
    close: async () => {
      await client.send(new DeleteTableCommand({ TableName: table }));
      client.destroy();
    },
  };
});
