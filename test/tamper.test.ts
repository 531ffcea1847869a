/**
 * Verify before write: one flipped byte anywhere that matters makes `verify` and `import`
 * refuse with a message naming what failed, and the target stays exactly as it was.
 */
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { content, makeWorld, runFerry, type World } from './support/world.ts';

/** Byte offset of a tar member's data (ustar: 512-byte headers, data padded to 512). */
async function memberOffset(file: string, name: string): Promise<{ offset: number; size: number }> {
  const buf = await readFile(file);
  let at = 0;
  while (at + 512 <= buf.length) {
    const header = buf.subarray(at, at + 512);
    const memberName = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    if (memberName === '') break;
    const size = parseInt(header.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim(), 8);
    if (memberName === name) return { offset: at + 512, size };
    at += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${name} not in ${file}`);
}

async function flipByte(source: string, dest: string, member: string | ((name: string) => boolean), at = 10): Promise<void> {
  await copyFile(source, dest);
  const buf = await readFile(dest);
  let name = typeof member === 'string' ? member : '';
  if (typeof member !== 'string') {
    // find the first member name matching the predicate
    let pos = 0;
    while (pos + 512 <= buf.length) {
      const n = buf.subarray(pos, pos + 100).toString('utf8').replace(/\0.*$/s, '');
      const size = parseInt(buf.subarray(pos + 124, pos + 136).toString('utf8').replace(/\0.*$/s, '').trim(), 8);
      if (member(n)) {
        name = n;
        break;
      }
      pos += 512 + Math.ceil(size / 512) * 512;
    }
  }
  const { offset, size } = await memberOffset(dest, name);
  const i = offset + Math.min(at, size - 1);
  buf[i] = buf[i]! ^ 0x01;
  await writeFile(dest, buf);
}

describe('a tampered bundle is refused by verify and import, and the target is unchanged', () => {
  let world: World;
  let bundle: string;

  beforeAll(async () => {
    world = await makeWorld();
    for (let i = 0; i < 3; i++) world.source.putRawAsset('raw-a', `/t/${i}.bin`, content(`t${i}`, 5000));
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    expect(exported.code, exported.stderr).toBe(0);
    const [file] = (await readdir(world.bundlesDir)).filter((f) => f.endsWith('.tar'));
    bundle = path.join(world.bundlesDir, file!);
  });
  afterAll(async () => world?.close());

  const cases: { what: string; member: string | ((n: string) => boolean); at?: number; message: RegExp }[] = [
    { what: 'a blob', member: (n) => n.startsWith('blobs/sha256/'), message: /blobs\/sha256\/[0-9a-f]{64}.*(sha256|digest)/i },
    { what: 'the manifest', member: 'ferry/manifest.json', at: 40, message: /manifest|signature/i },
    { what: 'the signature', member: 'ferry/manifest.sig', at: 120, message: /signature/i },
  ];

  for (const c of cases) {
    it(`refuses one flipped byte in ${c.what}`, async () => {
      // Prepare
      const tampered = path.join(world.dir, `tampered-${c.what.replace(/\W/g, '')}.tar`);
      await flipByte(bundle, tampered, c.member, c.at);

      // Act
      const verify = await runFerry(['verify', '--config', world.importConfig, tampered], world.env);
      const verifyByKey = await runFerry(['verify', '--public-key', world.publicKeyFile, tampered], world.env);
      const imported = await runFerry(['import', '--config', world.importConfig, tampered], world.env);

      // Assess
      for (const run of [verify, verifyByKey, imported]) {
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(c.message);
        expect(run.stderr).toContain(path.basename(tampered));
      }
      expect(world.target.assetPaths('raw-a')).toEqual([]);
      expect(world.target.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    });
  }

  it('accepts the untampered bundle with verify, then imports it', async () => {
    // Act
    const verify = await runFerry(['verify', '--config', world.importConfig, bundle], world.env);
    const imported = await runFerry(['import', '--config', world.importConfig, bundle], world.env);

    // Assess
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/OK/);
    expect(imported.code, imported.stderr).toBe(0);
    expect(world.target.assetPaths('raw-a')).toHaveLength(3);
  });
});
