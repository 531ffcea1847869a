/**
 * The Lambda bundles, built through the options infra deploys them with
 * (infra/lambda-bundling.ts; test/infra.test.ts holds the synthesized assets to the same
 * bytes): each at most 1 MB, the AWS SDK left to the runtime — exactly the SDK packages
 * declared as the runtime's, none of its code bundled — and each loads in a fresh Node 24
 * with the SDK from outside the bundle, as Lambda's runtime provides it. How fast they
 * load is the benchmark's (bench/lambdas.ts).
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../infra/common.ts';
import { FUNCTION_NAMES, lambdaBuildOptions, RUNTIME_SDK_PACKAGES, type FunctionName } from '../infra/lambda-bundling.ts';
import { lambdaEnv } from './support/lambda-env.ts';

const run = promisify(execFile);
const MB = 1_000_000;

let dir: string;
const built = new Map<FunctionName, { file: string; output: Metafile['outputs'][string] }>();

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ferry-lambdas-'));
  for (const name of FUNCTION_NAMES) {
    const outdir = path.join(dir, name);
    const { metafile } = await build({ ...lambdaBuildOptions(name, outdir), metafile: true });
    const output = Object.values(metafile.outputs).find((o) => o.entryPoint !== undefined)!;
    built.set(name, { file: path.join(outdir, 'index.mjs'), output });
  }
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The packages a bundle imports from outside itself, Node's own modules aside. */
const externalPackages = (name: FunctionName) =>
  new Set(built.get(name)!.output.imports.filter((i) => i.external && !isBuiltin(i.path)).map((i) => i.path));

describe('Lambda bundles', () => {
  it.each(FUNCTION_NAMES)('bundles %s into one file of at most 1 MB', async (name) => {
    // Act
    const { size } = await stat(built.get(name)!.file);
    // Assess
    expect(size).toBeLessThanOrEqual(1 * MB);
  });

  it('leaves exactly the declared runtime SDK packages out, and bundles no SDK code', () => {
    // Act
    const external = new Set(FUNCTION_NAMES.flatMap((name) => [...externalPackages(name)]));
    const bundledSdk = FUNCTION_NAMES.flatMap((name) => Object.keys(built.get(name)!.output.inputs).filter((input) => /node_modules\/@(aws-sdk|smithy|aws-crypto)\//.test(input)));
    // Assess
    expect([...external].sort()).toEqual([...RUNTIME_SDK_PACKAGES].sort());
    expect(bundledSdk).toEqual([]);
  });

  it('declares as the runtime SDK only packages of the AWS SDK for JavaScript v3, which nodejs24.x ships', async () => {
    // Act
    const repositories = await Promise.all(
      RUNTIME_SDK_PACKAGES.map(async (pkg) => {
        const manifest = JSON.parse(await readFile(path.join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { repository?: { url?: string; directory?: string } };
        return { pkg, repository: manifest.repository?.url };
      }),
    );
    // Assess
    for (const { pkg, repository } of repositories) expect(repository, pkg).toMatch(/github\.com\/aws\/aws-sdk-js-v3(\.git)?$/);
  });

  it('loads each bundle in a fresh Node 24, the SDK resolved from outside it, to a handler', async () => {
    // Prepare: where Lambda's runtime keeps the SDK, this repository's node_modules stands in.
    await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const probe = 'const m = await import(process.argv[1]); process.stdout.write(typeof m.handler);';
    for (const name of FUNCTION_NAMES) {
      // Act
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe, pathToFileURL(built.get(name)!.file).href], { env: lambdaEnv(name, pem) });
      // Assess
      expect(stdout, name).toBe('function');
    }
  });
});
