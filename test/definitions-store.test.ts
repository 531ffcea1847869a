/**
 * Sync definitions in the state table, against DynamoDB Local: the seed the stack's custom
 * resource sends (written once, never over an API change), create / replace / remove with
 * the audit trail (who and when), validation naming each field, conditional changes and
 * concurrent writers; then the real `ferry definitions` CLI (dist/ferry.js) on a table,
 * refusing as the API does a registry secret outside the policy the deploy wrote.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoDefinitionStore, secretPolicyPutItemInput, seedPutItemInput } from '../shared/adapters/aws/dynamo-definitions.ts';
import { createTableInput } from '../shared/adapters/aws/dynamo-export-state.ts';
import { activeDefinitions, seedDefinitions, type ChangeOptions } from '../shared/config/definitions.ts';
import { DefinitionNotFoundError, DefinitionsNotSeededError, DefinitionVersionError, InvalidDefinitionError } from '../shared/config/errors.ts';
import { makeDynamoClient } from './support/emulators.ts';
import { startFakeSts, type FakeSts } from './support/fake-sts.ts';
import { runFerry } from './support/world.ts';

const dynamoEndpoint = inject('dynamoEndpoint');
const region = 'us-east-1';
// DynamoDB Local accepts access key ids of letters and digits only.
const credentials = { accessKeyId: 'ferrytest', secretAccessKey: 'ferrytest' };
const STACK = 'arn:aws:cloudformation:us-east-1:123456789012:stack/FerryExportStack/0f1e';
const ALICE = 'arn:aws:sts::123456789012:assumed-role/ops/alice';
const BOB = 'arn:aws:sts::123456789012:assumed-role/ops/bob';
const DOCKER = { name: 'docker-hosted', format: 'docker', registry: { url: 'https://nexus.example.com:8083' }, tags: { semver: '>=1' } };

let documents: DynamoDBDocumentClient;
let dynamo: DynamoDBClient;

beforeAll(() => {
  documents = makeDynamoClient(dynamoEndpoint);
  dynamo = new DynamoDBClient({ endpoint: dynamoEndpoint, region, credentials });
});
afterAll(() => {
  documents.destroy();
  dynamo.destroy();
});

async function newTable(): Promise<string> {
  const table = `ferry-definitions-${randomUUID()}`;
  await dynamo.send(new CreateTableCommand(createTableInput(table)));
  return table;
}

/** What the stack's custom resource sends at deploy: the low-level PutItem, as is. */
const deploySeed = (table: string, repositories: unknown[], sourceId = 'corp') => dynamo.send(new PutItemCommand(seedPutItemInput(table, seedDefinitions(sourceId, repositories, STACK))));

/** A store whose clock reads `at` (changeable), so the recorded "when" is asserted exactly. */
function storeOf(table: string, sourceId = 'corp') {
  const clock = { at: '2025-01-15T10:00:00.000Z' };
  return { store: new DynamoDefinitionStore({ client: documents, table, sourceId, now: () => new Date(clock.at) }), clock };
}

const api = (by: string, more: Partial<ChangeOptions> = {}): ChangeOptions => ({ by, via: 'api', ...more });

describe('the definitions store on DynamoDB', () => {
  it('seeds once: the deployment writes its repositories only while the source has none, so a redeploy never overwrites an API change', async () => {
    // Prepare
    const table = await newTable();
    const { store } = storeOf(table);

    // Act: the first deploy, a change by API, then a redeploy whose context adds raw-c
    await deploySeed(table, [{ name: 'raw-a', format: 'raw' }]);
    const seeded = await store.read();
    await store.put({ name: 'raw-b', format: 'raw' }, api(ALICE));
    const redeploy = await deploySeed(table, [{ name: 'raw-a', format: 'raw', target: 'elsewhere' }, { name: 'raw-c', format: 'raw' }]).then(
      () => 'written',
      (error: Error) => error.name,
    );
    const after = await store.read();

    // Assess
    expect(seeded).toEqual({
      sourceId: 'corp',
      revision: 1,
      seeded: { by: STACK },
      repositories: [{ name: 'raw-a', definition: { name: 'raw-a', format: 'raw' }, version: 1, updatedBy: STACK, via: 'seed' }],
    });
    // The error the custom resource ignores (ignoreErrorCodesMatching).
    expect(redeploy).toBe('ConditionalCheckFailedException');
    expect(activeDefinitions(after)).toEqual([{ name: 'raw-a', format: 'raw' }, { name: 'raw-b', format: 'raw' }]);
  });

  it('creates, replaces and removes definitions, versions counting up, each change recorded with who and when', async () => {
    // Prepare
    const table = await newTable();
    await deploySeed(table, [{ name: 'raw-a', format: 'raw' }]);
    const { store, clock } = storeOf(table);

    // Act
    const created = await store.put({ name: 'raw-b', format: 'raw' }, api(ALICE));
    clock.at = '2025-01-15T11:00:00.000Z';
    const replaced = await store.put({ format: 'raw', target: 'raw-b-mirror' }, { ...api(BOB), name: 'raw-b' });
    const again = await store.put({ name: 'raw-b', format: 'raw', target: 'raw-b-mirror' }, api(BOB));
    clock.at = '2025-01-15T12:00:00.000Z';
    const removed = await store.remove('raw-b', api(ALICE));
    const definitions = await store.read();
    clock.at = '2025-01-15T13:00:00.000Z';
    const recreated = await store.put({ name: 'raw-b', format: 'raw' }, { by: 'carol@ops-host', via: 'cli' });
    const history = await store.history('raw-b');

    // Assess
    expect(created).toEqual({ created: true, changed: true, record: { name: 'raw-b', definition: { name: 'raw-b', format: 'raw' }, version: 1, updatedAt: '2025-01-15T10:00:00.000Z', updatedBy: ALICE, via: 'api' } });
    expect(replaced).toMatchObject({ created: false, changed: true, record: { version: 2, updatedBy: BOB, definition: { target: 'raw-b-mirror' } } });
    expect(again).toMatchObject({ created: false, changed: false, record: { version: 2 } });
    expect(removed).toMatchObject({ version: 3, removed: { at: '2025-01-15T12:00:00.000Z', by: ALICE, via: 'api' }, definition: { target: 'raw-b-mirror' } });
    // Removed: no longer carried, but kept (copies queued before the removal still finish).
    expect(activeDefinitions(definitions).map((d) => d.name)).toEqual(['raw-a']);
    expect(definitions.repositories.map((r) => r.name)).toEqual(['raw-a', 'raw-b']);
    expect(recreated).toMatchObject({ created: true, record: { version: 4, via: 'cli', updatedBy: 'carol@ops-host' } });
    expect(history).toEqual([
      { revision: 2, repository: 'raw-b', action: 'create', version: 1, at: '2025-01-15T10:00:00.000Z', by: ALICE, via: 'api', definition: { name: 'raw-b', format: 'raw' } },
      { revision: 3, repository: 'raw-b', action: 'update', version: 2, at: '2025-01-15T11:00:00.000Z', by: BOB, via: 'api', definition: { name: 'raw-b', format: 'raw', target: 'raw-b-mirror' }, previous: { name: 'raw-b', format: 'raw' } },
      { revision: 4, repository: 'raw-b', action: 'delete', version: 3, at: '2025-01-15T12:00:00.000Z', by: ALICE, via: 'api', definition: { name: 'raw-b', format: 'raw', target: 'raw-b-mirror' } },
      { revision: 5, repository: 'raw-b', action: 'create', version: 4, at: '2025-01-15T13:00:00.000Z', by: 'carol@ops-host', via: 'cli', definition: { name: 'raw-b', format: 'raw' } },
    ]);
  });

  it('refuses a definition the config schema refuses, naming each field, and changes nothing', async () => {
    // Prepare
    const table = await newTable();
    await deploySeed(table, [{ name: 'raw-a', format: 'raw' }]);
    const { store } = storeOf(table);
    const problems = async (input: unknown, name?: string) => store.put(input, { ...api(ALICE), name }).then(() => [], (error: unknown) => (error instanceof InvalidDefinitionError ? error.problems : [String(error)]));

    // Act
    const docker = await problems({ name: 'docker-b', format: 'docker', tags: { include: '(' } });
    const noName = await problems({ format: 'raw' });
    const unknown = await problems({ name: 'raw-b', format: 'raw', filters: {} });
    const format = await problems({ name: 'conda-b', format: 'conda' });
    const mismatch = await problems({ name: 'raw-b', format: 'raw' }, 'raw-c');
    const definitions = await store.read();

    // Assess
    expect(docker).toEqual(['registry: required for a docker repository ({url, …})', 'tags.include: not a regular expression (Invalid regular expression: /(/: Unterminated group)']);
    expect(noName).toEqual(['name: required']);
    expect(unknown).toEqual(['(root): unknown field(s) "filters"']);
    expect(format).toEqual([expect.stringMatching(/^format: must be one of raw, docker, maven2, npm, pypi, nuget, helm/)]);
    expect(mismatch).toEqual(['name: "raw-b" does not match the repository the request names ("raw-c")']);
    expect(definitions.revision).toBe(1);
    expect(await store.history()).toEqual([]);
  });

  it('changes only at the version a conditional change names, and loses no concurrent change', async () => {
    // Prepare
    const table = await newTable();
    await deploySeed(table, [DOCKER]);
    const { store } = storeOf(table);
    await store.put({ ...DOCKER, platforms: ['linux/amd64'] }, api(ALICE));

    // Act: a stale If-Match, a create over an existing one, then ten writers at once
    const stale = await store.put({ ...DOCKER, platforms: ['linux/arm64'] }, api(BOB, { ifVersion: 1 })).catch((error: unknown) => error);
    const exists = await store.put(DOCKER, api(BOB, { ifAbsent: true })).catch((error: unknown) => error);
    const fresh = await store.put({ ...DOCKER, platforms: ['linux/arm64'] }, api(BOB, { ifVersion: 2 }));
    const gone = await store.remove('raw-zz', api(BOB)).catch((error: unknown) => error);
    await Promise.all(Array.from({ length: 10 }, (_, i) => storeOf(table).store.put({ name: `raw-${i}`, format: 'raw' }, api(i % 2 ? ALICE : BOB))));
    const definitions = await store.read();
    const history = await store.history();

    // Assess
    expect(stale).toBeInstanceOf(DefinitionVersionError);
    expect(stale).toMatchObject({ repository: 'docker-hosted', current: 2, message: 'docker-hosted: expected version 1 (If-Match), but it is at version 2' });
    expect(exists).toMatchObject({ name: 'DefinitionVersionError', current: 2 });
    expect(fresh.record).toMatchObject({ version: 3, definition: { platforms: ['linux/arm64'], discovery: 'nexus', referrers: true } });
    expect(gone).toBeInstanceOf(DefinitionNotFoundError);
    expect(definitions.repositories.map((r) => r.name).sort()).toEqual(['docker-hosted', ...Array.from({ length: 10 }, (_, i) => `raw-${i}`)].sort());
    expect(definitions.revision).toBe(1 + 2 + 10);
    expect(history.map((c) => c.revision)).toEqual(Array.from({ length: 12 }, (_, i) => i + 2));
  });

  it('refuses to read or change the definitions of a source the table holds none of', async () => {
    // Prepare
    const table = await newTable();
    await deploySeed(table, [{ name: 'raw-a', format: 'raw' }]);
    const { store } = storeOf(table, 'typo');

    // Act
    const read = await store.read().catch((error: unknown) => error);
    const put = await store.put({ name: 'raw-b', format: 'raw' }, api(ALICE)).catch((error: unknown) => error);

    // Assess
    expect(read).toBeInstanceOf(DefinitionsNotSeededError);
    expect((read as Error).message).toBe(`DynamoDB table ${table} holds no repository definitions for source typo: check the table and source id (the export stack seeds them at its first deploy)`);
    expect(put).toBeInstanceOf(DefinitionsNotSeededError);
  });
});

describe('ferry definitions', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let sts: FakeSts;
  const callerArn = 'arn:aws:iam::123456789012:user/carol';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ferry-definitions-'));
    sts = await startFakeSts(callerArn);
    env = {
      AWS_ENDPOINT_URL_STS: sts.url,
      PATH: process.env.PATH,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    };
  });
  afterAll(async () => {
    await sts.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('records the caller\'s AWS identity (STS) as who made a change, and refuses a change when STS cannot say, naming --actor', async () => {
    // Prepare
    const table = await newTable();
    await deploySeed(table, [{ name: 'raw-a', format: 'raw' }]);
    const file = path.join(dir, 'raw-b.yaml');
    await writeFile(file, 'name: raw-b\nformat: raw\n');
    const callsBefore = sts.calls;

    // Act
    const put = await runFerry(['definitions', 'put', file, '--table', table], env);
    const history = await runFerry(['definitions', 'history', '--json', '--table', table], env);
    const unreachable = await runFerry(['definitions', 'delete', 'raw-b', '--table', table], { ...env, AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:9' });
    const after = await runFerry(['definitions', 'list', '--json', '--table', table], env);

    // Assess
    expect(put.code, put.stderr).toBe(0);
    expect(sts.calls).toBe(callsBefore + 1);
    expect((JSON.parse(history.stdout) as { repository: string; by: string }[]).map((c) => [c.repository, c.by])).toEqual([['raw-b', callerArn]]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('STS GetCallerIdentity failed');
    expect(unreachable.stderr).toContain('--actor');
    expect((JSON.parse(after.stdout) as { repositories: { name: string }[] }).repositories.map((r) => r.name)).toEqual(['raw-a', 'raw-b']);
  });

  it('lists, gets, puts and deletes definitions on the state table, recording the actor, and refuses bad input with exit 2 naming file and field', async () => {
    // Prepare
    const table = await newTable();
    await deploySeed(table, [{ name: 'raw-a', format: 'raw' }]);
    const good = path.join(dir, 'docker.yaml');
    await writeFile(good, 'name: docker-hosted\nformat: docker\nregistry:\n  url: https://nexus.example.com:8083\ntags: { semver: ">=1" }\n');
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ name: 'docker-b', format: 'docker', registry: { url: 'https://r.example' }, platforms: ['amd64'] }));
    const ferry = (...args: string[]) => runFerry(['definitions', ...args, '--table', table], env);

    // Act
    const put = await ferry('put', good, '--actor', 'alice');
    const list = await ferry('list');
    const got = await ferry('get', 'docker-hosted', '--json');
    const refused = await ferry('put', bad);
    const stale = await ferry('put', good, '--if-version', '7');
    const created = await ferry('put', good, '--create');
    const deleted = await ferry('delete', 'raw-a', '--actor', 'bob', '--source-id', 'corp');
    const afterDelete = await ferry('list', '--json');
    const history = await ferry('history', '--json');
    const missing = await ferry('get', 'raw-a');

    // Assess
    expect(put.code, put.stderr).toBe(0);
    expect(put.stdout).toContain('defined docker-hosted (version 1)');
    expect(list.stdout).toMatch(/^raw-a +raw +raw-a +v1 +seeded by arn:aws:cloudformation:/m);
    expect(list.stdout).toMatch(/^docker-hosted +docker +docker-hosted +v1 +updated \S+ by alice \(cli\)$/m);
    expect(JSON.parse(got.stdout)).toMatchObject({ name: 'docker-hosted', version: 1, updatedBy: 'alice', via: 'cli', definition: { tags: { semver: '>=1' }, registry: { url: 'https://nexus.example.com:8083' } } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${bad}: invalid configuration`);
    expect(refused.stderr).toContain('platforms[0]: must be os/arch[/variant]');
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('docker-hosted: expected version 7 (If-Match), but it is at version 1');
    expect(created.code).toBe(1);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toContain('removed raw-a (version 2)');
    expect((JSON.parse(afterDelete.stdout) as { repositories: { name: string }[] }).repositories.map((r) => r.name)).toEqual(['docker-hosted']);
    expect((JSON.parse(history.stdout) as { action: string; repository: string; by: string }[]).map((c) => [c.action, c.repository, c.by])).toEqual([
      ['create', 'docker-hosted', 'alice'],
      ['delete', 'raw-a', 'bob'],
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no repository raw-a is defined');
  });

  it('refuses, as the API does, a docker definition naming a registry secret the functions cannot read (the policy the deploy wrote), and takes one under the prefix', async () => {
    // Prepare: the policy item exactly as the stack's custom resource writes it
    const table = await newTable();
    await deploySeed(table, [{ name: 'raw-a', format: 'raw' }]);
    const prefix = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/corp/';
    await dynamo.send(new PutItemCommand(secretPolicyPutItemInput(table, 'corp', { prefix, arns: [] })));
    const withSecret = async (file: string, arn: string) => {
      await writeFile(path.join(dir, file), JSON.stringify({ ...DOCKER, registry: { ...DOCKER.registry, secretArn: arn } }));
      return path.join(dir, file);
    };
    const outside = await withSecret('outside.json', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:corp/harbor-robot-AbCdEf');
    const inside = await withSecret('inside.json', `${prefix}harbor-robot-AbCdEf`);

    // Act
    const refused = await runFerry(['definitions', 'put', outside, '--table', table, '--actor', 'alice'], env);
    const accepted = await runFerry(['definitions', 'put', inside, '--table', table, '--actor', 'alice'], env);
    const listed = await runFerry(['definitions', 'list', '--json', '--table', table], env);

    // Assess
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(outside);
    expect(refused.stderr).toContain('registry.secretArn: the functions can read only secrets named ferry/corp/…');
    expect(accepted.code, accepted.stderr).toBe(0);
    const repositories = (JSON.parse(listed.stdout) as { repositories: { name: string; version: number }[] }).repositories;
    expect(repositories.map((r) => [r.name, r.version])).toEqual([['raw-a', 1], ['docker-hosted', 1]]);
  });

  it('asks for --source-id when the table holds several sources, and says when it holds none', async () => {
    // Prepare
    const table = await newTable();
    const empty = await newTable();
    await deploySeed(table, [{ name: 'raw-a', format: 'raw' }], 'corp');
    await deploySeed(table, [{ name: 'raw-b', format: 'raw' }], 'lab');

    // Act
    const ambiguous = await runFerry(['definitions', 'list', '--table', table], env);
    const named = await runFerry(['definitions', 'list', '--table', table, '--source-id', 'lab'], env);
    const none = await runFerry(['definitions', 'list', '--table', empty], env);

    // Assess
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('holds the definitions of several sources (corp, lab): name one with --source-id');
    expect(named.stdout).toMatch(/^raw-b /m);
    expect(named.stdout).not.toContain('raw-a');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`table ${empty} holds no repository definitions`);
  });
});
