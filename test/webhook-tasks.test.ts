/**
 * The copy tasks (and tombstones) a Nexus webhook event turns into: the same tasks a scan
 * would produce, content read back from the REST API, never from the event.
 */
import { describe, expect, it } from 'vitest';
import type { SourceAsset, SourceComponent } from '../shared/core/ports/index.ts';
import { scanRepository, type ScanRepository } from '../shared/core/export/scan.ts';
import { silentLog } from '../shared/core/log.ts';
import { rawTaskId } from '../shared/core/formats/raw/export.ts';
import { tasksForWebhook, type WebhookSource } from '../shared/core/export/webhook-tasks.ts';
import { FakeSource, MemoryExportState, MemoryQueue } from './support/fakes.ts';

const repositories: ScanRepository[] = [{ name: 'raw-a', format: 'raw', target: 'raw-a-target' }];

const asset = (path: string, sha256: string): SourceAsset => ({
  path,
  checksums: { sha256, sha1: sha256.slice(0, 40) },
  lastModified: '2025-01-15T10:20:30.123Z',
  size: 10,
});

class FakeWebhookSource implements WebhookSource {
  components = new Map<string, SourceComponent>();
  assets = new Map<string, SourceAsset & { repository: string }>();
  calls: string[] = [];
  async getComponent(id: string) {
    this.calls.push(`component ${id}`);
    const found = this.components.get(id);
    if (!found) throw Object.assign(new Error(`GET /service/rest/v1/components/${id}: HTTP 404`), { status: 404 });
    return found;
  }
  async getAsset(id: string) {
    this.calls.push(`asset ${id}`);
    const found = this.assets.get(id);
    if (!found) throw Object.assign(new Error(`GET /service/rest/v1/assets/${id}: HTTP 404`), { status: 404 });
    return found;
  }
  async hasPath(repository: string, path: string) {
    this.calls.push(`path ${repository}${path}`);
    return [...this.assets.values()].some((a) => a.repository === repository && a.path === path);
  }
}

const event = (overrides: Record<string, unknown>) => ({
  timestamp: '2025-01-15T10:20:30.123+00:00',
  nodeId: '52905B51-085CCABB-CEBBEAAD-16795588-FC927D93',
  initiator: 'admin/10.0.0.5',
  repositoryName: 'raw-a',
  action: 'CREATED' as const,
  ...overrides,
});

describe('tasksForWebhook', () => {
  it('turns a component event into one task per asset, skipping content already staged', async () => {
    // Prepare
    const source = new FakeWebhookSource();
    const state = new MemoryExportState();
    const a1 = asset('/lib/one.bin', 'a'.repeat(64));
    const a2 = asset('/lib/one.bin.sha1', 'b'.repeat(64));
    const a3 = asset('/lib/old.bin', 'c'.repeat(64));
    source.components.set('cmF3LWE6MQ', { id: 'cmF3LWE6MQ', repository: 'raw-a', format: 'raw', group: null, name: 'lib', version: null, assets: [a1, a2, a3] });
    await state.addPendingEntry({ kind: 'raw', sourceRepository: 'raw-a', path: a3.path, targetRepository: 'raw-a-target', digest: `sha256:${'c'.repeat(64)}`, size: 10, checksums: a3.checksums });
    const e = event({ component: { id: '1', componentId: 'cmF3LWE6MQ', format: 'raw', name: 'lib' } });

    // Act
    const result = await tasksForWebhook({ source, state }, e, repositories);

    // Assess
    expect(source.calls).toEqual(['component cmF3LWE6MQ']);
    expect(result.alreadyStaged).toBe(1);
    expect(result.tasks).toEqual([
      { kind: 'raw', id: rawTaskId('raw-a', a1.path, a1.checksums, a1.lastModified), sourceRepository: 'raw-a', path: a1.path, targetRepository: 'raw-a-target', checksums: a1.checksums, size: 10, lastModified: a1.lastModified },
      { kind: 'raw', id: rawTaskId('raw-a', a2.path, a2.checksums, a2.lastModified), sourceRepository: 'raw-a', path: a2.path, targetRepository: 'raw-a-target', checksums: a2.checksums, size: 10, lastModified: a2.lastModified },
    ]);
  });

  it('turns an asset event into one task for the asset fetched by assetId', async () => {
    // Prepare
    const source = new FakeWebhookSource();
    const a1 = asset('/charts/mychart-1.2.3.tgz', 'd'.repeat(64));
    source.assets.set('cmF3LWE6NDU5', { ...a1, repository: 'raw-a' });
    const e = event({ asset: { id: '459', assetId: 'cmF3LWE6NDU5', format: 'raw', name: a1.path } });

    // Act
    const result = await tasksForWebhook({ source, state: new MemoryExportState() }, e, repositories);

    // Assess
    expect(source.calls).toEqual(['asset cmF3LWE6NDU5']);
    expect(result.tasks).toHaveLength(1);
    expect(result.tasks[0]).toMatchObject({ kind: 'raw', sourceRepository: 'raw-a', path: a1.path, targetRepository: 'raw-a-target', checksums: a1.checksums });
  });

  it('turns a docker tag event into one image task, honouring the tag filter', async () => {
    // Prepare: a docker repository; a release tag and an -rc tag the filter leaves out
    const source = new FakeWebhookSource();
    const docker: ScanRepository[] = [{ name: 'docker-hosted', format: 'docker', target: 'docker-hosted', discovery: 'nexus', filter: { tags: { exclude: '-rc' } }, referrers: true }];
    const manifest = asset('/v2/team/app/manifests/1.2.3', 'e'.repeat(64));
    const rc = asset('/v2/team/app/manifests/1.3.0-rc1', 'f'.repeat(64));
    source.components.set('ZG9ja2VyOjE', { id: 'ZG9ja2VyOjE', repository: 'docker-hosted', format: 'docker', group: null, name: 'team/app', version: '1.2.3', assets: [manifest] });
    source.components.set('ZG9ja2VyOjI', { id: 'ZG9ja2VyOjI', repository: 'docker-hosted', format: 'docker', group: null, name: 'team/app', version: '1.3.0-rc1', assets: [rc] });

    // Act
    const kept = await tasksForWebhook({ source, state: new MemoryExportState() }, event({ repositoryName: 'docker-hosted', component: { id: '1', componentId: 'ZG9ja2VyOjE', format: 'docker', name: 'team/app', version: '1.2.3' } }), docker);
    const filtered = await tasksForWebhook({ source, state: new MemoryExportState() }, event({ repositoryName: 'docker-hosted', component: { id: '2', componentId: 'ZG9ja2VyOjI', format: 'docker', name: 'team/app', version: '1.3.0-rc1' } }), docker);

    // Assess
    expect(kept.tasks).toEqual([expect.objectContaining({ kind: 'image', sourceRepository: 'docker-hosted', name: 'team/app', tag: '1.2.3', digest: `sha256:${'e'.repeat(64)}` })]);
    expect(filtered.tasks).toEqual([]);
  });

  it('turns a maven2 component event into one task per file, leaving checksum sidecars and maven-metadata.xml to the target', async () => {
    // Prepare
    const source = new FakeWebhookSource();
    const dir = '/org/example/widget/1.0.0';
    const files = ['widget-1.0.0.pom', 'widget-1.0.0.jar', 'widget-1.0.0.jar.sha1', 'widget-1.0.0-sources.jar', 'widget-1.0.0.pom.md5'].map((f, i) => asset(`${dir}/${f}`, String(i).repeat(64)));
    source.components.set('bWF2ZW4', { id: 'bWF2ZW4', repository: 'maven-releases', format: 'maven2', group: 'org.example', name: 'widget', version: '1.0.0', assets: files });
    const maven: ScanRepository[] = [{ name: 'maven-releases', format: 'maven2', target: 'maven-releases' }];
    const e = event({ repositoryName: 'maven-releases', component: { id: '1', componentId: 'bWF2ZW4', format: 'maven2', name: 'widget', group: 'org.example', version: '1.0.0' } });

    // Act
    const result = await tasksForWebhook({ source, state: new MemoryExportState() }, e, maven);

    // Assess
    expect(result.tasks.map((t) => [t.kind, 'path' in t ? t.path : '']).sort()).toEqual([
      ['maven2', `${dir}/widget-1.0.0-sources.jar`],
      ['maven2', `${dir}/widget-1.0.0.jar`],
      ['maven2', `${dir}/widget-1.0.0.pom`],
    ]);
    expect(result.tasks[0]).toMatchObject({ component: { group: 'org.example', name: 'widget', version: '1.0.0' } });
  });

  it("counts an event of a group's member for the configured group: the member is read, the group's target written", async () => {
    // Prepare: npm-public (configured) groups npm-hosted, which has the webhook
    const source = new FakeWebhookSource();
    const tarball = asset('/left-pad/-/left-pad-1.3.0.tgz', '9'.repeat(64));
    source.assets.set('bnBt', { ...tarball, repository: 'npm-hosted' });
    const groups: ScanRepository[] = [{ name: 'npm-public', format: 'npm', target: 'npm-far' }];
    const membersOf = async (group: string) => (group === 'npm-public' ? ['npm-hosted', 'npm-proxy'] : []);
    const e = event({ repositoryName: 'npm-hosted', asset: { id: '1', assetId: 'bnBt', format: 'npm', name: tarball.path } });

    // Act
    const result = await tasksForWebhook({ source, state: new MemoryExportState(), membersOf }, e, groups);
    const elsewhere = await tasksForWebhook({ source, state: new MemoryExportState(), membersOf }, { ...e, repositoryName: 'npm-other' }, groups);

    // Assess
    expect(result.tasks).toEqual([expect.objectContaining({ kind: 'npm', sourceRepository: 'npm-hosted', targetRepository: 'npm-far', path: tarball.path })]);
    expect(elsewhere).toMatchObject({ tasks: [], ignored: 'repository not configured' });
  });

  it('gives the same task id as the scan for the same content, so the two collapse', async () => {
    // Prepare
    const source = new FakeWebhookSource();
    const a1 = asset('/x.bin', 'e'.repeat(64));
    source.assets.set('id1', { ...a1, repository: 'raw-a' });
    const e = event({ asset: { id: '1', assetId: 'id1', format: 'raw', name: '/x.bin' } });

    // Act
    const first = await tasksForWebhook({ source, state: new MemoryExportState() }, e, repositories);
    const again = await tasksForWebhook({ source, state: new MemoryExportState() }, { ...e, action: 'UPDATED' }, repositories);

    // Assess
    expect(first.tasks[0]?.id).toBe(rawTaskId('raw-a', '/x.bin', a1.checksums, a1.lastModified));
    expect(again.tasks[0]?.id).toBe(first.tasks[0]?.id);
  });

  it('gives content uploaded again after a carried deletion a task id of its own, the same on every delivery', async () => {
    // Prepare: /x.bin staged, then deleted on the source (the DELETED event records its tombstone)
    const source = new FakeWebhookSource();
    const state = new MemoryExportState();
    const carrying: ScanRepository[] = [{ ...repositories[0]!, carryDeletions: true }];
    const a1 = asset('/x.bin', 'e'.repeat(64));
    source.assets.set('id1', { ...a1, repository: 'raw-a' });
    const created = event({ asset: { id: '1', assetId: 'id1', format: 'raw', name: '/x.bin' } });
    const before = rawTaskId('raw-a', '/x.bin', a1.checksums, a1.lastModified);
    const staged = { kind: 'raw', sourceRepository: 'raw-a', path: '/x.bin', targetRepository: 'raw-a-target', digest: `sha256:${'e'.repeat(64)}` as const, size: 10, checksums: a1.checksums };
    await state.addPendingEntry(staged);
    const stagedBefore = await tasksForWebhook({ source, state }, created, carrying);
    source.assets.delete('id1');
    await tasksForWebhook({ source, state }, { ...created, action: 'DELETED' }, carrying);

    // Act: the same bytes uploaded again, the event delivered twice, the task run; then deleted and uploaded once more
    source.assets.set('id1', { ...a1, repository: 'raw-a' });
    const again = await tasksForWebhook({ source, state }, created, carrying);
    const redelivered = await tasksForWebhook({ source, state }, created, carrying);
    await state.addPendingEntry(staged);
    source.assets.delete('id1');
    await tasksForWebhook({ source, state }, { ...created, action: 'DELETED' }, carrying);
    source.assets.set('id1', { ...a1, repository: 'raw-a' });
    const third = await tasksForWebhook({ source, state }, created, carrying);

    // Assess
    expect(stagedBefore).toMatchObject({ tasks: [], alreadyStaged: 1 });
    expect(again.tasks).toEqual([expect.objectContaining({ kind: 'raw', path: '/x.bin', checksums: a1.checksums })]);
    expect(again.tasks[0]!.id).not.toBe(before);
    expect(redelivered.tasks[0]!.id).toBe(again.tasks[0]!.id);
    expect(new Set([before, again.tasks[0]!.id, third.tasks[0]!.id]).size).toBe(3);
  });

  it('gives content restored to its earlier bytes a task id of its own, the same on every delivery and for the scan', async () => {
    // Prepare: /x.bin uploaded (v1) and staged, overwritten (v2) and staged; no deletions carried
    const [source, state] = [new FakeWebhookSource(), new MemoryExportState()];
    const [v1, v2] = [asset('/x.bin', 'e'.repeat(64)), asset('/x.bin', 'f'.repeat(64))];
    const staged = (a: SourceAsset) => ({ kind: 'raw', sourceRepository: 'raw-a', path: '/x.bin', targetRepository: 'raw-a-target', digest: `sha256:${a.checksums.sha256!}` as const, size: 10, checksums: a.checksums });
    /** The source now holds `a` at /x.bin and says so in an UPDATED event. */
    const uploaded = (a: SourceAsset) => {
      source.assets.set('id1', { ...a, repository: 'raw-a' });
      return tasksForWebhook({ source, state }, event({ action: 'UPDATED', asset: { id: '1', assetId: 'id1', format: 'raw', name: '/x.bin' } }), repositories);
    };
    const first = await uploaded(v1);
    await state.addPendingEntry(staged(v1));
    const overwritten = await uploaded(v2);
    await state.addPendingEntry(staged(v2));

    // Act: v1's bytes restored, the event delivered twice and the repository scanned; then the task run
    const [restored, redelivered] = [await uploaded(v1), await uploaded(v1)];
    const [scanned, queue] = [new FakeSource(), new MemoryQueue()];
    scanned.pages = [{ items: [{ id: 'c1', repository: 'raw-a', format: 'raw', group: null, name: 'x.bin', version: null, assets: [v1] }], continuationToken: null }];
    await scanRepository({ source: scanned, queue, state, clock: { now: () => new Date() }, log: silentLog }, repositories[0]!, { overlapMs: 0 });
    await state.addPendingEntry(staged(v1));
    const afterStaged = await uploaded(v1);

    // Assess
    expect(first.tasks[0]!.id).toBe(rawTaskId('raw-a', '/x.bin', v1.checksums, v1.lastModified));
    expect(restored.tasks).toEqual([expect.objectContaining({ kind: 'raw', path: '/x.bin', checksums: v1.checksums })]);
    expect(new Set([first.tasks[0]!.id, overwritten.tasks[0]!.id, restored.tasks[0]!.id]).size).toBe(3);
    expect(redelivered.tasks[0]!.id).toBe(restored.tasks[0]!.id);
    expect([...queue.tasks.keys()]).toEqual([restored.tasks[0]!.id]);
    expect(afterStaged).toMatchObject({ tasks: [], alreadyStaged: 1 });
  });

  it('yields no task and asks nothing of the source for a repository not configured', async () => {
    // Prepare
    const source = new FakeWebhookSource();
    const e = event({ repositoryName: 'maven-releases', component: { id: '1', componentId: 'x', format: 'maven2', name: 'widget' } });

    // Act
    const result = await tasksForWebhook({ source, state: new MemoryExportState() }, e, repositories);

    // Assess
    expect(result.tasks).toEqual([]);
    expect(result.ignored).toBe('repository not configured');
    expect(source.calls).toEqual([]);
  });

  it('yields no task for DELETED and PURGED but returns the deletion for the log', async () => {
    // Prepare
    const source = new FakeWebhookSource();
    const deleted = event({ action: 'DELETED', component: { id: '1', componentId: 'cmF3', format: 'raw', name: 'lib', version: '1.0' } });
    const purged = event({ action: 'PURGED', assets: ['as1', 'as2'] });

    // Act
    const d = await tasksForWebhook({ source, state: new MemoryExportState() }, deleted, repositories);
    const p = await tasksForWebhook({ source, state: new MemoryExportState() }, purged, repositories);

    // Assess
    expect(d.tasks).toEqual([]);
    expect(d.deletion).toEqual({ repository: 'raw-a', action: 'DELETED', kind: 'component', ids: ['cmF3'], name: 'lib:1.0', component: { name: 'lib', version: '1.0' } });
    expect(p.tasks).toEqual([]);
    expect(p.deletion).toEqual({ repository: 'raw-a', action: 'PURGED', kind: 'asset', ids: ['as1', 'as2'] });
    expect(source.calls).toEqual([]);
  });

  it('yields no task when the component is already gone from the source (404)', async () => {
    // Prepare
    const source = new FakeWebhookSource();
    const e = event({ component: { id: '1', componentId: 'gone', format: 'raw', name: 'lib' } });

    // Act
    const result = await tasksForWebhook({ source, state: new MemoryExportState() }, e, repositories);

    // Assess
    expect(result.tasks).toEqual([]);
    expect(result.ignored).toBe('gone from the source');
  });
});
