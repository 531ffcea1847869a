/**
 * Bad input gets a clear error that names what and where, the right exit code, and
 * leaves nothing behind.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pack } from 'tar-stream';
import { createWriteStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorld, runFerry, type World } from './support/world.ts';

describe('bad configuration, usage and bundles', () => {
  let world: World;
  beforeAll(async () => {
    world = await makeWorld();
  });
  afterAll(async () => world?.close());

  it('names the offending field of a bad export config, exits 2 and starts nothing', async () => {
    // Prepare
    const file = path.join(world.dir, 'bad-export.yaml');
    const good = await readFile(world.exportConfig, 'utf8');
    await writeFile(file, good.replace(/workDir: export-work/, 'workDir: bad-work').replace(/- name: raw-b\n\s+format: raw/, '- format: raw'));

    // Act
    const run = await runFerry(['export', '--once', '--config', file], world.env);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('source.repositories[1].name: required');
    expect(existsSync(path.join(world.dir, 'bad-work'))).toBe(false);
    expect(world.source.requests).toEqual([]);
  });

  it('refuses a password written in the config, naming the field and never echoing it', async () => {
    // Prepare
    const file = path.join(world.dir, 'inline-secret.yaml');
    const good = await readFile(world.importConfig, 'utf8');
    await writeFile(file, good.replace(/passwordFile: target-password/, 'password: hunter2-secret'));

    // Act
    const run = await runFerry(['import', '--config', file, 'whatever.tar'], world.env);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('target.credentials.password');
    expect(run.stderr).not.toContain('hunter2-secret');
  });

  it('names a missing credential variable without revealing any secret', async () => {
    // Act
    const env = { ...world.env, FERRY_SOURCE_PASSWORD: '' };
    const run = await runFerry(['export', '--once', '--config', world.exportConfig], env);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('FERRY_SOURCE_PASSWORD');
  });

  it('reports a YAML syntax error with its line', async () => {
    // Prepare
    const file = path.join(world.dir, 'broken.yaml');
    await writeFile(file, 'sourceId: x\nsource: [unclosed\n');

    // Act
    const run = await runFerry(['export', '--once', '--config', file], world.env);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/broken\.yaml.*\n.*line \d+/);
  });

  it('exits 2 on bad usage and 0 on --help', async () => {
    const unknown = await runFerry(['frobnicate'], world.env);
    const missing = await runFerry(['import', '--config', world.importConfig], world.env);
    const help = await runFerry(['export', '--help'], world.env);
    expect(unknown.code).toBe(2);
    expect(missing.code).toBe(2);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--once');
  });

  it('names a bundle or receipt path that is missing or a directory, exits 2 and touches nothing', async () => {
    // Prepare
    const missing = path.join(world.dir, 'nope-00000001.tar');
    const directory = world.dir;

    // Act
    const runs = {
      import: await runFerry(['import', '--config', world.importConfig, missing, directory], world.env),
      verify: await runFerry(['verify', '--public-key', world.publicKeyFile, directory], world.env),
      inspect: await runFerry(['inspect', missing], world.env),
      receipt: await runFerry(['receipt', 'apply', '--config', world.exportConfig, directory], world.env),
    };

    // Assess
    for (const [command, run] of Object.entries(runs)) expect(run.code, `${command}: ${run.stderr}`).toBe(2);
    expect(runs.import.stderr).toContain(`${missing}: no such bundle file`);
    expect(runs.import.stderr).toContain(`${directory}: is a directory, not a bundle file`);
    expect(runs.verify.stderr).toContain(`${directory}: is a directory, not a bundle file`);
    expect(runs.inspect.stderr).toContain(`${missing}: no such bundle file`);
    expect(runs.receipt.stderr).toContain(`${directory}: is a directory, not a receipt file`);
    expect(existsSync(path.join(world.dir, 'import-work'))).toBe(false);
    expect(world.target.requests).toEqual([]);
  });

  const evil: { what: string; entry: Record<string, unknown>; body?: string; message: RegExp }[] = [
    { what: 'an absolute path', entry: { name: '/etc/passwd', size: 4 }, body: 'evil', message: /\/etc\/passwd.*(absolute|unsafe)/i },
    { what: 'a .. segment', entry: { name: 'blobs/../../escape', size: 4 }, body: 'evil', message: /\.\..*(unsafe|parent|\.\.)/i },
    { what: 'a symlink', entry: { name: 'blobs/sha256/link', type: 'symlink', linkname: '/etc/passwd' }, message: /symlink|link/i },
  ];
  for (const c of evil) {
    it(`refuses a bundle holding ${c.what}, and writes nothing`, async () => {
      // Prepare
      const file = path.join(world.dir, `evil-${c.what.replace(/\W/g, '')}.tar`);
      const p = pack();
      const done = pipeline(p, createWriteStream(file));
      p.entry({ name: 'oci-layout' }, '{"imageLayoutVersion":"1.0.0"}');
      if (c.body === undefined) p.entry(c.entry as never);
      else p.entry(c.entry as never, c.body);
      p.finalize();
      await done;

      // Act
      const run = await runFerry(['import', '--config', world.importConfig, file], world.env);

      // Assess
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(c.message);
      expect(run.stderr).toContain(path.basename(file));
      expect(world.target.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    });
  }
});
