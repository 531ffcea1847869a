/**
 * Gap imports, through the real CLI: a bundle imported out of sequence (--allow-gap) does
 * not move the chain; once the bundles before it arrive, the chain moves over it.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteImportState } from '../shared/adapters/embedded/index.ts';
import { content, makeWorld, runFerry, type World } from './support/world.ts';

describe('gap imports', () => {
  let world: World | undefined;
  afterEach(async () => world?.close());

  it('imports 1, 2, 5 (--allow-gap), then 3 and 4; the head is 5 and 6 follows without --allow-gap', async () => {
    // Prepare: six bundles, one new artifact each
    world = await makeWorld();
    for (let i = 1; i <= 6; i++) {
      world.source.putRawAsset('raw-a', `/gap/${i}.bin`, content(`gap ${i}`, 700));
      expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    }
    const files = (await readdir(world.bundlesDir)).filter((f) => f.endsWith('.tar')).sort().map((f) => path.join(world!.bundlesDir, f));
    const run = (args: string[]) => runFerry(['import', '--config', world!.importConfig, ...args], world!.env);

    // Act
    const first = await run([files[0]!, files[1]!]);
    const gap = await run(['--allow-gap', files[4]!]);
    const headAfterGap = await headOf(world);
    const fill = await run([files[2]!, files[3]!]);
    const headAfterFill = await headOf(world);
    const next = await run([files[5]!]);

    // Assess
    expect(files).toHaveLength(6);
    for (const r of [first, gap, fill, next]) expect(r.code, r.stderr).toBe(0);
    expect(gap.stdout).toContain('imported sequence 5 of test-source out of sequence');
    expect(headAfterGap).toBe(2);
    expect(headAfterFill).toBe(5);
    expect(await headOf(world)).toBe(6);
    expect(world.target.assetPaths('raw-a').sort()).toEqual([1, 2, 3, 4, 5, 6].map((i) => `/gap/${i}.bin`));
  });

  it('says "already imported" once for a bundle imported before', async () => {
    // Prepare
    world = await makeWorld();
    world.source.putRawAsset('raw-a', '/once.bin', 'once');
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const [file] = (await readdir(world.bundlesDir)).filter((f) => f.endsWith('.tar'));
    const bundle = path.join(world.bundlesDir, file!);
    expect((await runFerry(['import', '--config', world.importConfig, bundle], world.env)).code).toBe(0);

    // Act
    const again = await runFerry(['import', '--config', world.importConfig, bundle], world.env);

    // Assess
    expect(again.code, again.stderr).toBe(0);
    expect(`${again.stdout}${again.stderr}`.match(/already imported/g)).toHaveLength(1);
  });
});

async function headOf(world: World): Promise<number | undefined> {
  const state = new SqliteImportState(path.join(world.dir, 'import-work', 'state.db'));
  try {
    return (await state.lastImported('test-source'))?.sequence;
  } finally {
    state.close();
  }
}
