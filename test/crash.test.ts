/**
 * kill -9 in the middle of real work, then run again: nothing lost, nothing duplicated.
 */
import { readdir } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { content, makeWorld, runFerry, spawnFerry, type World } from './support/world.ts';

async function killWhen(child: ReturnType<typeof spawnFerry>, condition: () => boolean, what: string): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (child.exitCode !== null) throw new Error(`the process finished before ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
  child.kill('SIGKILL');
  await exited;
}

describe('crash safety (SIGKILL, then run again)', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('an importer killed mid-run finishes on re-run with no duplicate uploads', async () => {
    // Prepare: 24 artifacts in one bundle; the target answers uploads slowly
    world = await makeWorld();
    const paths = Array.from({ length: 24 }, (_, i) => `/crash/${i}.bin`);
    for (const p of paths) world.source.putRawAsset('raw-a', p, content(p, 20_000));
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const [file] = (await readdir(world.bundlesDir)).filter((f) => f.endsWith('.tar'));
    const bundle = path.join(world.bundlesDir, file!);
    world.target.injectFault({ method: 'POST', url: /\/service\/rest\/v1\/components/, kind: 'delay', ms: 150, times: 24 });
    const uploads = () => paths.reduce((n, p) => n + world.target.uploadCount('raw-a', p), 0);

    // Act: kill once a few uploads have landed, then run again
    const child = spawnFerry(['import', '--config', world.importConfig, bundle], world.env);
    await killWhen(child, () => uploads() >= 5, 'five uploads');
    const afterKill = uploads();
    world.target.clearFaults();
    const rerun = await runFerry(['import', '--config', world.importConfig, bundle], world.env);

    // Assess
    expect(afterKill).toBeGreaterThanOrEqual(5);
    expect(afterKill).toBeLessThan(24);
    expect(rerun.code, rerun.stderr).toBe(0);
    for (const p of paths) {
      expect(world.target.uploadCount('raw-a', p), p).toBe(1);
      expect(world.target.getAsset('raw-a', p)!.content.equals(content(p, 20_000))).toBe(true);
    }
  });

  it('an exporter killed mid-copy resumes on re-run and every artifact is sealed exactly once', async () => {
    // Prepare: 30 artifacts; downloads are slow so the kill lands mid-copy
    world = await makeWorld();
    const paths = Array.from({ length: 30 }, (_, i) => `/exp/${i}.bin`);
    for (const p of paths) world.source.putRawAsset('raw-a', p, content(p, 10_000));
    world.source.injectFault({ method: 'GET', url: /^\/repository\/raw-a\//, kind: 'delay', ms: 150, times: 30 });
    const downloads = () => world.source.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/repository/raw-a/')).length;

    // Act
    const child = spawnFerry(['export', '--once', '--config', world.exportConfig], world.env);
    await killWhen(child, () => downloads() >= 6, 'six downloads');
    const bundlesAfterKill = (await readdir(world.bundlesDir).catch(() => [])).filter((f) => f.endsWith('.tar'));
    world.source.clearFaults();
    const rerun = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);

    // Assess
    expect(bundlesAfterKill).toEqual([]);
    expect(rerun.code, rerun.stderr).toBe(0);
    const files = (await readdir(world.bundlesDir)).filter((f) => f.endsWith('.tar')).sort();
    const entries: string[] = [];
    for (const f of files) {
      const s = await readBundleSummary(createReadStream(path.join(world.bundlesDir, f)), f);
      entries.push(...s.manifest.entries.map((e) => (e.kind === 'raw' ? e.source.path : '')));
    }
    expect(entries.sort()).toEqual([...paths].sort());
    const imported = await runFerry(['import', '--config', world.importConfig, ...files.map((f) => path.join(world.bundlesDir, f))], world.env);
    expect(imported.code, imported.stderr).toBe(0);
    expect(world.target.assetPaths('raw-a').sort()).toEqual([...paths].sort());
  });
});
