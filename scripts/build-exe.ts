/**
 * Builds `ferry` as single-file executables for machines with no Node.js and no registry (the
 * isolated side): Node's single executable applications, made of the pinned Node binaries
 * from the npm registry (scripts/exe/node-binaries.ts) and one CommonJS bundle of the CLI
 * (scripts/exe/sea.ts). Beside each executable go its sha256 and a detached signature by a
 * Ferry signing key (scripts/exe/custody.ts), so the tool crosses the gap with the same
 * chain of custody as the bundles.
 *
 *   npm run build:exe -- --key keys/ferry.key [--arch x64] [--out dist/exe]
 *
 * Exit codes as the CLI's: 0 built, 1 failed, 2 bad usage (nothing is started).
 */
import type { KeyObject } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { KeyLoadError, loadPrivateKey } from '../shared/signing.ts';
import { REPO_ROOT } from './build-cli.ts';
import { verifyCommand, writeCustody, type Custody } from './exe/custody.ts';
import { ExeUsageError } from './exe/errors.ts';
import { ARCHES, extractNodeBinary, pinnedNodeVersion, type Arch } from './exe/node-binaries.ts';
import { bundleForSea, injectBlob, makeSeaBlob } from './exe/sea.ts';

export const EXE_DIR = path.join(REPO_ROOT, 'dist/exe');
/** The environment variable naming the signing key file when `--key` is not given. */
export const KEY_ENV = 'FERRY_EXE_SIGNING_KEY';
const CACHE_DIR = path.join(REPO_ROOT, 'node_modules/.cache/ferry-exe');

const USAGE = `usage: npm run build:exe -- --key <private-key-file> [--arch x64|arm64]... [--out <dir>]

  -k, --key <file>   the Ferry signing key (PEM) that signs the executables; or set ${KEY_ENV}.
                     Make one with \`npx ferry keys generate --out keys\`; the isolated side checks
                     the signatures with its public half (e.g. the key it trusts for bundles).
  -a, --arch <arch>  x64 or arm64, repeatable (default: both)
  -o, --out <dir>    where the executables go (default: dist/exe)`;

export interface ExeBuildOptions {
  keyFile: string;
  arches: readonly Arch[];
  outDir: string;
  log?: (line: string) => void;
}

export interface BuiltExecutable extends Custody {
  arch: Arch;
  file: string;
  bytes: number;
}

export async function buildExecutables(options: ExeBuildOptions): Promise<BuiltExecutable[]> {
  const log = options.log ?? (() => undefined);
  const key = await loadSigningKey(options.keyFile);
  const version = await pinnedNodeVersion(REPO_ROOT);
  if (process.version !== `v${version}`) {
    // The blob is made by the Node running this script and must match the binaries' version.
    throw new ExeUsageError(`run with Node ${version} (the node devDependency: npm run build:exe), not ${process.version}`);
  }
  const buildDir = path.join(options.outDir, '.build');
  await mkdir(buildDir, { recursive: true });
  const script = path.join(buildDir, 'ferry-sea.cjs');
  await bundleForSea(REPO_ROOT, script);
  const blob = await makeSeaBlob(REPO_ROOT, buildDir, script);
  log(`bundled ${shown(script)} (${await kib(script)}), SEA blob for Node ${version}`);
  const built: BuiltExecutable[] = [];
  for (const arch of options.arches) {
    const nodeBinary = await extractNodeBinary(arch, version, CACHE_DIR, buildDir);
    const file = path.join(options.outDir, `ferry-linux-${arch}`);
    // An earlier build's checksum and signature never stand beside a new executable, even
    // when this build stops half-way.
    await Promise.all([rm(`${file}.sha256`, { force: true }), rm(`${file}.sig`, { force: true })]);
    try {
      await injectBlob(nodeBinary, blob, file);
    } finally {
      await rm(nodeBinary, { force: true });
    }
    const custody = await writeCustody(file, key);
    const bytes = (await stat(file)).size;
    built.push({ arch, file, bytes, ...custody });
    log(`${shown(file)}  ${(bytes / 1024 / 1024).toFixed(1)} MiB  sha256 ${custody.sha256}`);
  }
  return built;
}

async function loadSigningKey(file: string): Promise<KeyObject> {
  try {
    return await loadPrivateKey(file);
  } catch (error) {
    if (error instanceof KeyLoadError) throw new ExeUsageError(`--key: ${error.message}`, { cause: error });
    throw error;
  }
}

/** A path as the user would type it: relative below the working directory, else absolute. */
function shown(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') ? file : relative;
}

async function kib(file: string): Promise<string> {
  return `${Math.round((await stat(file)).size / 1024)} KiB`;
}

/** The options from the command line and the environment; a usage problem throws ExeUsageError. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): ExeBuildOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        key: { type: 'string', short: 'k' },
        arch: { type: 'string', short: 'a', multiple: true },
        out: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ExeUsageError((error as Error).message, { cause: error });
  }
  if (values.help) return 'help';
  const keyFile = values.key ?? env[KEY_ENV];
  if (keyFile === undefined || keyFile === '') {
    throw new ExeUsageError(`--key <file> is required (or ${KEY_ENV}): the executables are signed like the bundles`);
  }
  const arches = [...new Set(values.arch ?? ARCHES)];
  const unknown = arches.filter((a) => !(ARCHES as readonly string[]).includes(a));
  if (unknown.length > 0) throw new ExeUsageError(`--arch: ${unknown.join(', ')} is not one of ${ARCHES.join(', ')}`);
  return { keyFile, arches: arches as Arch[], outDir: path.resolve(values.out ?? EXE_DIR) };
}

async function main(argv: string[]): Promise<number> {
  let options: ExeBuildOptions | 'help';
  try {
    options = parseOptions(argv, process.env);
  } catch (error) {
    process.stderr.write(`build:exe: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const started = Date.now();
    const built = await buildExecutables({ ...options, log: (line) => process.stdout.write(`${line}\n`) });
    const first = built[0];
    if (first !== undefined) {
      process.stdout.write(`signed by key ${first.keyId} (${first.algorithm}) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      process.stdout.write(`check on the isolated side: sha256sum -c ${path.basename(first.file)}.sha256 && ${verifyCommand(first.algorithm, path.basename(first.file))}\n`);
    }
    return 0;
  } catch (error) {
    process.stderr.write(`build:exe: ${describe(error)}\n`);
    return error instanceof ExeUsageError ? 2 : 1;
  }
}

function describe(error: unknown): string {
  const parts: string[] = [];
  for (let current = error; current instanceof Error && parts.length < 4; current = current.cause) {
    const message = current.message;
    if (!parts.some((part) => part.includes(message))) parts.push(message);
  }
  return parts.length > 0 ? parts.join('\n  caused by: ') : String(error);
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
