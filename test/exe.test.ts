/**
 * `npm run build:exe`: single executables of `ferry` for a machine with no Node.js and no
 * registry. The build runs once (scripts/build-exe.ts as a real process, with the pinned Node
 * binaries from the registry); the x64 executable is then copied alone into an empty directory
 * and run with a PATH that holds no `node` and no node_modules above it, to verify and import a
 * bundle that the normal `dist/ferry.js` exported, into a Nexus stand-in. Beside each
 * executable, its sha256 and signature are checked with sha256sum and openssl, as the README
 * tells the operator to.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../shared/signing.ts';
import { bundles, content, makeWorld, REPO_ROOT, runFerry, type World } from './support/world.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end; a program that cannot be started comes back as its spawn error code. */
function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Run & { spawnError?: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error: NodeJS.ErrnoException) => resolve({ code: null, stdout, stderr, spawnError: error.code ?? error.message }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const BUILD_EXE = path.join(REPO_ROOT, 'scripts/build-exe.ts');

let dir: string;
let out: string;
let publicKeyFile: string;
let build: Run;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ferry-exe-'));
  out = path.join(dir, 'exe');
  const keys = generateSigningKeyPair('ed25519');
  await writeFile(path.join(dir, 'release.key'), keys.privateKeyPem, { mode: 0o600 });
  publicKeyFile = path.join(dir, 'ferry.pub');
  await writeFile(publicKeyFile, keys.publicKeyPem);
  // Both architectures, as `npm run build:exe` makes them: the x64 one runs below, the arm64
  // one is checked for its blob, checksum and signature (this machine cannot run it).
  build = await run(process.execPath, [BUILD_EXE, '--key', path.join(dir, 'release.key'), '--out', out], { cwd: REPO_ROOT });
}, 600_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm run build:exe', () => {
  it('makes an executable per architecture with its sha256 and signature beside it', async () => {
    // Assess
    expect(build.code, build.stderr).toBe(0);
    expect((await readdir(out)).filter((f) => !f.startsWith('.')).sort()).toEqual([
      'ferry-linux-arm64',
      'ferry-linux-arm64.sha256',
      'ferry-linux-arm64.sig',
      'ferry-linux-x64',
      'ferry-linux-x64.sha256',
      'ferry-linux-x64.sig',
    ]);
    for (const arch of ['x64', 'arm64']) {
      const name = `ferry-linux-${arch}`;
      expect(await readFile(path.join(out, `${name}.sha256`), 'utf8')).toBe(`${sha256(await readFile(path.join(out, name)))}  ${name}\n`);
    }
    const checked = await run('sha256sum', ['-c', 'ferry-linux-x64.sha256', 'ferry-linux-arm64.sha256'], { cwd: out });
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toBe('ferry-linux-x64: OK\nferry-linux-arm64: OK\n');
  });

  it('signs each executable so that openssl verifies it with the public key alone', async () => {
    // Act: the command the README gives the operator
    const verified = await Promise.all(
      ['x64', 'arm64'].map((arch) =>
        run('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', publicKeyFile, '-rawin', '-in', `ferry-linux-${arch}`, '-sigfile', `ferry-linux-${arch}.sig`], { cwd: out }),
      ),
    );

    // Assess
    for (const result of verified) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('Signature Verified Successfully');
    }
  });

  it('fails the signature check and the checksum of an executable with one byte flipped', async () => {
    // Prepare: a copy with one byte changed in the middle, beside the genuine .sig and .sha256
    const tampered = path.join(dir, 'tampered');
    await mkdir(tampered, { recursive: true });
    const bytes = await readFile(path.join(out, 'ferry-linux-x64'));
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0x01;
    await writeFile(path.join(tampered, 'ferry-linux-x64'), bytes);
    for (const file of ['ferry-linux-x64.sig', 'ferry-linux-x64.sha256']) await copyFile(path.join(out, file), path.join(tampered, file));

    // Act
    const signature = await run('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', publicKeyFile, '-rawin', '-in', 'ferry-linux-x64', '-sigfile', 'ferry-linux-x64.sig'], { cwd: tampered });
    const checksum = await run('sha256sum', ['-c', 'ferry-linux-x64.sha256'], { cwd: tampered });

    // Assess
    expect(signature.code).not.toBe(0);
    expect(signature.stdout).toContain('Signature Verification Failure');
    expect(checksum.code).not.toBe(0);
    expect(checksum.stdout).toContain('ferry-linux-x64: FAILED');
  });

  it('injects one platform-neutral blob into both binaries: an x64 and an AArch64 ELF', async () => {
    // Prepare
    const blob = await readFile(path.join(out, '.build/sea.blob'));
    const fuse = Buffer.from('NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1');

    for (const [arch, machine] of [['x64', 0x3e], ['arm64', 0xb7]] as const) {
      // Act
      const exe = await readFile(path.join(out, `ferry-linux-${arch}`));

      // Assess: ELF e_machine (x86-64 0x3e, AArch64 0xb7), the blob whole, the fuse flipped
      expect(exe.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
      expect(exe.readUInt16LE(18)).toBe(machine);
      expect(exe.indexOf(blob)).toBeGreaterThan(0);
      expect(exe.indexOf(fuse)).toBeGreaterThan(0);
    }
  });

  it('refuses to build without a signing key, naming --key, with exit 2', async () => {
    // Prepare: no --key and no FERRY_EXE_SIGNING_KEY
    const env = { ...process.env };
    delete env.FERRY_EXE_SIGNING_KEY;

    // Act
    const refused = await run(process.execPath, [BUILD_EXE, '--out', path.join(dir, 'unsigned')], { env, cwd: REPO_ROOT });

    // Assess
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--key <file> is required');
    expect(existsSync(path.join(dir, 'unsigned'))).toBe(false);
  });
});

describe('the x64 executable alone, with no node and no node_modules', () => {
  let world: World;
  let isolated: string;
  let exe: string;
  let env: NodeJS.ProcessEnv;
  afterEach(async () => world?.close());

  beforeAll(async () => {
    // Prepare: the executable alone in an empty directory; PATH is one more empty directory
    isolated = await mkdtemp(path.join(tmpdir(), 'ferry-isolated-'));
    exe = path.join(isolated, 'ferry');
    await copyFile(path.join(out, 'ferry-linux-x64'), exe);
    const emptyBin = await mkdtemp(path.join(tmpdir(), 'ferry-empty-path-'));
    env = { PATH: emptyBin, HOME: isolated, CI: 'true' };
  });

  afterAll(async () => {
    if (isolated) await rm(isolated, { recursive: true, force: true });
    if (env?.PATH) await rm(env.PATH, { recursive: true, force: true });
  });

  it('starts from an empty directory where neither node nor node_modules can be found', async () => {
    // Act
    const node = await run('node', ['--version'], { env, cwd: isolated });
    const version = await run(exe, ['--version'], { env, cwd: isolated });
    const jsVersion = await runFerry(['--version'], process.env);

    // Assess
    expect(await readdir(isolated)).toEqual(['ferry']);
    expect(node.spawnError).toBe('ENOENT');
    for (let up = isolated; up !== path.dirname(up); up = path.dirname(up)) expect(existsSync(path.join(up, 'node_modules')), up).toBe(false);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout).toBe(jsVersion.stdout);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('verifies and imports a bundle exported by dist/ferry.js into a Nexus stand-in', async () => {
    // Prepare: a real bundle from the JS CLI
    world = await makeWorld();
    for (let i = 0; i < 12; i++) world.source.putRawAsset('raw-a', `/tools/t-${i}.bin`, content(`t${i}`, 3000 + i));
    world.source.putRawAsset('raw-b', '/docs/readme.txt', content('readme', 700));
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    expect(exported.code, exported.stderr).toBe(0);
    const files = await bundles(world);
    expect(files).toHaveLength(1);

    // Act
    const byKey = await run(exe, ['verify', '--public-key', world.publicKeyFile, ...files], { env, cwd: isolated });
    const byConfig = await run(exe, ['verify', '--config', world.importConfig, ...files], { env, cwd: isolated });
    const imported = await run(exe, ['import', '--config', world.importConfig, ...files], { env, cwd: isolated });

    // Assess
    expect(byKey.code, byKey.stderr).toBe(0);
    expect(byConfig.code, byConfig.stderr).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    for (const repo of ['raw-a', 'raw-b']) {
      const paths = world.source.assetPaths(repo);
      expect(world.target.assetPaths(repo).sort()).toEqual([...paths].sort());
      for (const p of paths) expect(sha256(world.target.getAsset(repo, p)!.content)).toBe(world.source.getAsset(repo, p)!.checksum.sha256);
    }
    expect(await readdir(world.receiptsDir)).toEqual(['test-source-00000001.receipt.json']);
    expect(await readdir(isolated)).toEqual(['ferry']);
  });
});
