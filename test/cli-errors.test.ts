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
import { parse, stringify } from 'yaml';
import { makeWorld, runFerry, type World } from './support/world.ts';

/** The fields of the world's export and import configs that these tests change. */
interface ConfigDoc {
  workDir: string;
  signing: { privateKeyFile: string };
  trust: { publicKeyFiles: string[] };
  receipts: { trustedPublicKeyFiles?: string[]; signingKeyFile?: string };
  source: { url: string; repositories: object[] };
  target: { url: string; registries?: Record<string, { url: string }> };
}

/**
 * Writes a copy of a world config, changed by `change`, next to it (relative paths keep
 * working), with a work directory of its own: `<name without .yaml>-work`.
 */
async function variant(config: string, name: string, change: (doc: ConfigDoc) => void): Promise<string> {
  const doc = parse(await readFile(config, 'utf8')) as ConfigDoc;
  doc.workDir = workDirOf(name);
  change(doc);
  const file = path.join(path.dirname(config), name);
  await writeFile(file, stringify(doc));
  return file;
}

const workDirOf = (name: string) => name.replace(/\.yaml$/, '-work');

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

  it('exits 2 naming trust.publicKeyFiles[i] when a trusted key file is missing or holds no key', async () => {
    // Prepare
    const bundle = path.join(world.dir, 'any-00000001.tar');
    await writeFile(bundle, 'not a bundle');
    const missing = await variant(world.importConfig, 'missing-trust.yaml', (doc) => {
      doc.trust.publicKeyFiles = ['no-such.pub'];
    });
    const notAKey = await variant(world.importConfig, 'secret-as-trust.yaml', (doc) => {
      doc.trust.publicKeyFiles = ['export.pub', 'target-password'];
    });

    // Act
    const runs = [
      await runFerry(['import', '--config', missing, bundle], world.env),
      await runFerry(['verify', '--config', missing, bundle], world.env),
      await runFerry(['import', '--config', notAKey, bundle], world.env),
    ];

    // Assess
    for (const run of runs) expect(run.code, run.stderr).toBe(2);
    for (const run of runs.slice(0, 2)) {
      expect(run.stderr).toContain(`${missing}: invalid configuration`);
      expect(run.stderr).toContain(`trust.publicKeyFiles[0]: cannot read ${path.join(world.dir, 'no-such.pub')} (ENOENT)`);
    }
    expect(runs[2]?.stderr).toContain(`trust.publicKeyFiles[1]: ${path.join(world.dir, 'target-password')} is not a PEM public key`);
    expect(runs[2]?.stderr).not.toContain('target-pa55');
    for (const name of ['missing-trust.yaml', 'secret-as-trust.yaml']) expect(existsSync(path.join(world.dir, workDirOf(name)))).toBe(false);
    expect(world.target.requests).toEqual([]);
  });

  it('exits 2 naming signing.privateKeyFile when the signing key is missing, before contacting the source', async () => {
    // Prepare
    const file = await variant(world.exportConfig, 'missing-signing-key.yaml', (doc) => {
      doc.signing.privateKeyFile = 'keys/no-such.key';
    });

    // Act
    const run = await runFerry(['export', '--once', '--config', file], world.env);

    // Assess
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(`${file}: invalid configuration`);
    expect(run.stderr).toContain(`signing.privateKeyFile: cannot read ${path.join(world.dir, 'keys/no-such.key')} (ENOENT)`);
    expect(existsSync(path.join(world.dir, workDirOf('missing-signing-key.yaml')))).toBe(false);
    expect(world.source.requests).toEqual([]);
  });

  it('exits 2 naming the receipt key fields of either config, and --public-key as usage', async () => {
    // Prepare
    const receipt = path.join(world.dir, 'any.receipt.json');
    await writeFile(receipt, '{}');
    const bundle = path.join(world.dir, 'any-00000001.tar');
    await writeFile(bundle, 'not a bundle');
    const exportConfig = await variant(world.exportConfig, 'missing-receipt-trust.yaml', (doc) => {
      doc.receipts = { trustedPublicKeyFiles: ['export.pub', 'gone.pub'] };
    });
    const importConfig = await variant(world.importConfig, 'missing-receipt-key.yaml', (doc) => {
      doc.receipts.signingKeyFile = 'gone.key';
    });
    const gone = path.join(world.dir, 'gone.pub');

    // Act
    const apply = await runFerry(['receipt', 'apply', '--config', exportConfig, receipt], world.env);
    const imported = await runFerry(['import', '--config', importConfig, bundle], world.env);
    const verifyByKey = await runFerry(['verify', '--public-key', gone, bundle], world.env);
    const applyByKey = await runFerry(['receipt', 'apply', '--table', 'state', '--source-id', 'x', '--public-key', gone, receipt], world.env);

    // Assess
    for (const run of [apply, imported, verifyByKey, applyByKey]) expect(run.code, run.stderr).toBe(2);
    expect(apply.stderr).toContain(`receipts.trustedPublicKeyFiles[1]: cannot read ${gone} (ENOENT)`);
    expect(imported.stderr).toContain(`receipts.signingKeyFile: cannot read ${path.join(world.dir, 'gone.key')} (ENOENT)`);
    for (const run of [verifyByKey, applyByKey]) expect(run.stderr).toContain(`--public-key: cannot read ${gone} (ENOENT)`);
    for (const name of ['missing-receipt-trust.yaml', 'missing-receipt-key.yaml']) expect(existsSync(path.join(world.dir, workDirOf(name)))).toBe(false);
    expect(world.target.requests).toEqual([]);
  });

  const withCredentials = 'http://ferryuser:s3cretpw@127.0.0.1:1/';
  const urlCases: { field: string; config: 'export' | 'import'; change: (doc: ConfigDoc) => void }[] = [
    { field: 'target.url', config: 'import', change: (doc) => (doc.target.url = withCredentials) },
    { field: 'target.registries["docker-hosted"].url', config: 'import', change: (doc) => (doc.target.registries = { 'docker-hosted': { url: withCredentials } }) },
    { field: 'source.url', config: 'export', change: (doc) => (doc.source.url = withCredentials) },
    {
      field: 'source.repositories[2].registry.url',
      config: 'export',
      change: (doc) => doc.source.repositories.push({ name: 'docker-hosted', format: 'docker', registry: { url: withCredentials } }),
    },
  ];
  for (const c of urlCases) {
    it(`refuses credentials in ${c.field}, exits 2 and never echoes the password or the URL`, async () => {
      // Prepare
      const name = `url-${c.field.replace(/\W/g, '-')}.yaml`;
      const file = await variant(c.config === 'export' ? world.exportConfig : world.importConfig, name, c.change);
      const bundle = path.join(world.dir, 'any-00000001.tar');
      await writeFile(bundle, 'not a bundle');

      // Act
      const run = await runFerry(c.config === 'export' ? ['export', '--once', '--config', file] : ['verify', '--config', file, bundle], world.env);

      // Assess
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(`${c.field}: must not carry credentials`);
      expect(run.stderr).toContain('use credentials');
      expect(`${run.stdout}${run.stderr}`).not.toContain('s3cretpw');
      expect(`${run.stdout}${run.stderr}`).not.toContain('ferryuser');
      expect(`${run.stdout}${run.stderr}`).not.toContain('127.0.0.1:1/');
      expect(existsSync(path.join(world.dir, workDirOf(name)))).toBe(false);
    });
  }

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

describe('a configuration that does not match the source', () => {
  let world: World;
  afterAll(async () => world?.close());

  it('refuses at export start a repository declared raw that the source has as helm, and one it does not have, exit 2, nothing staged', async () => {
    // Prepare: the source's raw-b is a helm repository; raw-c does not exist there
    world = await makeWorld({
      repositories: ['raw-a', 'raw-b', 'raw-c'],
      source: { repositories: [{ name: 'raw-a', format: 'raw', type: 'hosted' }, { name: 'raw-b', format: 'helm', type: 'hosted' }] },
    });
    world.source.putRawAsset('raw-a', '/a.bin', 'a');

    // Act
    const run = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('source.repositories[1] (raw-b): declared raw, but the source Nexus says raw-b is a helm hosted repository');
    expect(run.stderr).toContain('source.repositories[2] (raw-c): the source Nexus has no repository raw-c');
    expect(existsSync(path.join(world.dir, 'export-work'))).toBe(false);
    expect(world.source.requests.filter((r) => r.url.startsWith('/service/rest/v1/components'))).toEqual([]);
  });
});
