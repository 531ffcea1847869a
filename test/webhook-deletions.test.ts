/**
 * A DELETED webhook carried as a tombstone only when the source really no longer serves the
 * path: webhooks are unordered, and a late DELETED event for a path uploaded again since must
 * not delete the new upload on the far side. Checked against the Nexus stand-in through the
 * real NexusClient.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NexusClient } from '../shared/adapters/nexus/client.ts';
import { NexusHttpError } from '../shared/adapters/nexus/errors.ts';
import { tasksForWebhook, type SourceEvent } from '../shared/core/export/webhook-tasks.ts';
import type { ScanRepository } from '../shared/core/export/scan.ts';
import type { StagedEntry } from '../shared/core/ports/index.ts';
import { startNexusStandin, type NexusStandin } from './nexus-standin/index.ts';
import { MemoryExportState } from './support/fakes.ts';

const repositories: ScanRepository[] = [
  { name: 'raw-a', format: 'raw', target: 'raw-a-target', carryDeletions: true },
  { name: 'maven-a', format: 'maven2', target: 'maven-a-target', carryDeletions: true },
  { name: 'docker-a', format: 'docker', target: 'docker-a-target', discovery: 'nexus', filter: {}, carryDeletions: true } as ScanRepository,
];

let nexus: NexusStandin;
let source: NexusClient;

beforeAll(async () => {
  nexus = await startNexusStandin({
    repositories: [
      { name: 'raw-a', format: 'raw', type: 'hosted' },
      { name: 'maven-a', format: 'maven2', type: 'hosted' },
      { name: 'docker-a', format: 'docker', type: 'hosted' },
      { name: 'raw-m1', format: 'raw', type: 'hosted' },
      { name: 'raw-m2', format: 'raw', type: 'hosted' },
      { name: 'raw-group', format: 'raw', type: 'group', memberNames: ['raw-m1', 'raw-m2'] },
    ],
  });
  source = new NexusClient({ baseUrl: nexus.url, retry: { maxAttempts: 1 } });
});
afterEach(() => nexus.clearFaults());
afterAll(async () => {
  await source?.close();
  await nexus?.close();
});

/** What Ferry staged at a path (the export ledger's entry), in the memory ledger. */
async function staged(state: MemoryExportState, repository: string, path: string, kind = 'raw'): Promise<void> {
  const hex = Buffer.from(`${repository}${path}`).toString('hex').padEnd(64, '0').slice(0, 64);
  const entry: StagedEntry = { kind, sourceRepository: repository, path, targetRepository: `${repository}-target`, digest: `sha256:${hex}`, size: 4, checksums: { sha256: hex } };
  await state.addPendingEntry(entry);
}

const tombstones = (state: MemoryExportState) => state.entries.filter((e) => e.kind === 'tombstone').map((e) => e.path);

const deleted = (repositoryName: string, event: Partial<SourceEvent>): SourceEvent => ({ repositoryName, action: 'DELETED', ...event });

describe('a DELETED webhook checked against the source', () => {
  it('records no tombstone for a path the source serves again (deleted, uploaded again, the DELETED event late)', async () => {
    // Prepare: /again.bin staged, deleted and uploaded again on the source (a new asset id)
    const state = new MemoryExportState();
    await staged(state, 'raw-a', '/again.bin');
    const { assetId } = nexus.putRawAsset('raw-a', '/again.bin', 'v1');

    // Act: the DELETED event of the first upload arrives now
    const result = await tasksForWebhook({ source, state }, deleted('raw-a', { asset: { assetId, name: '/again.bin' } }), repositories);

    // Assess
    expect(result.carried).toEqual({ staged: 0, stillAtSource: 1 });
    expect(tombstones(state)).toEqual([]);
    expect(nexus.requests.some((r) => r.method === 'HEAD' && r.url === '/repository/raw-a/again.bin')).toBe(true);
  });

  it('asks a configured group, not the member: a path another member still has is served, no tombstone; one none has is gone', async () => {
    // Prepare: raw-group carried as its members; /both.bin staged from raw-m1, and raw-m2 has it too
    const grouped: ScanRepository[] = [{ name: 'raw-group', format: 'raw', target: 'raw-far', carryDeletions: true }];
    const state = new MemoryExportState();
    await staged(state, 'raw-m1', '/both.bin');
    await staged(state, 'raw-m1', '/only.bin');
    nexus.putRawAsset('raw-m2', '/both.bin', 'served by the other member');
    const membersOf = async (group: string) => (group === 'raw-group' ? ['raw-m1', 'raw-m2'] : []);

    // Act: raw-m1's DELETED events for both
    const both = await tasksForWebhook({ source, state, membersOf }, deleted('raw-m1', { asset: { assetId: 'cmF3LW0xOmJvdGg', name: '/both.bin' } }), grouped);
    const only = await tasksForWebhook({ source, state, membersOf }, deleted('raw-m1', { asset: { assetId: 'cmF3LW0xOm9ubHk', name: '/only.bin' } }), grouped);

    // Assess
    expect(both.carried).toEqual({ staged: 0, stillAtSource: 1 });
    expect(only.carried).toEqual({ staged: 1 });
    expect(tombstones(state)).toEqual(['/only.bin']);
    expect(nexus.requests.some((r) => r.method === 'HEAD' && r.url === '/repository/raw-group/both.bin')).toBe(true);
  });

  it('records the tombstone for a path the source no longer serves', async () => {
    // Prepare
    const state = new MemoryExportState();
    await staged(state, 'raw-a', '/gone.bin');

    // Act
    const result = await tasksForWebhook({ source, state }, deleted('raw-a', { asset: { assetId: 'cmF3LWE6Z29uZQ', name: '/gone.bin' } }), repositories);

    // Assess
    expect(result.carried).toEqual({ staged: 1 });
    expect(tombstones(state)).toEqual(['/gone.bin']);
  });

  it('rejects, recording nothing, when the source cannot say (HTTP 500)', async () => {
    // Prepare
    const state = new MemoryExportState();
    await staged(state, 'raw-a', '/unsure.bin');
    nexus.injectFault({ method: 'HEAD', url: /^\/repository\/raw-a\/unsure\.bin$/, kind: 'status', status: 500 });

    // Act
    const outcome = tasksForWebhook({ source, state }, deleted('raw-a', { asset: { assetId: 'cmF3LWE6dW5zdXJl', name: '/unsure.bin' } }), repositories);

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(NexusHttpError);
    await expect(outcome).rejects.toMatchObject({ status: 500 });
    expect(tombstones(state)).toEqual([]);
  });

  it('checks each path of a component deletion that names a directory (maven2)', async () => {
    // Prepare: the pom and jar of widget 1.0.0 staged; only the pom is on the source again
    const state = new MemoryExportState();
    const dir = '/org/example/widget/1.0.0';
    await staged(state, 'maven-a', `${dir}/widget-1.0.0.pom`, 'package');
    await staged(state, 'maven-a', `${dir}/widget-1.0.0.jar`, 'package');
    await nexus.seedPut('maven-a', `${dir}/widget-1.0.0.pom`, '<project/>');

    // Act
    const event = deleted('maven-a', { component: { componentId: 'bWF2ZW4tYTp3', group: 'org.example', name: 'widget', version: '1.0.0' } });
    const result = await tasksForWebhook({ source, state }, event, repositories);

    // Assess
    expect(result.carried).toEqual({ staged: 1, stillAtSource: 1 });
    expect(tombstones(state)).toEqual([`${dir}/widget-1.0.0.jar`]);
  });

  it('asks for a docker tag by its manifest path', async () => {
    // Prepare: team/app:1.0 pushed again on the source; team/app:2.0 gone
    const state = new MemoryExportState();
    await staged(state, 'docker-a', '/v2/team/app/manifests/1.0', 'image');
    await staged(state, 'docker-a', '/v2/team/app/manifests/2.0', 'image');
    nexus.putDockerTag('docker-a', 'team/app', '1.0', Buffer.from('{"schemaVersion":2}'), 'application/vnd.oci.image.manifest.v1+json');

    // Act
    const tag = (version: string) => deleted('docker-a', { component: { componentId: `ZG9ja2VyOj${version}`, group: '', name: 'team/app', version } });
    const again = await tasksForWebhook({ source, state }, tag('1.0'), repositories);
    const gone = await tasksForWebhook({ source, state }, tag('2.0'), repositories);

    // Assess
    expect(again.carried).toEqual({ staged: 0, stillAtSource: 1 });
    expect(gone.carried).toEqual({ staged: 1 });
    expect(tombstones(state)).toEqual(['/v2/team/app/manifests/2.0']);
  });
});
