/**
 * The three steps of a Node.js single executable application (SEA) on Node 24: one script,
 * a preparation blob made from it, and the blob injected into a copy of the `node` binary.
 *
 * Node 24.21's SEA runs one CommonJS script (`mainFormat`, for an ESM main, came in Node 25),
 * whose `require()` loads built-in modules only. So the script is a single CommonJS bundle of
 * the whole CLI: every dependency inside it, every `import()` turned into an in-bundle
 * `require()` (esbuild still evaluates a command's modules only when that command runs).
 *
 * The blob holds no code cache and no snapshot: those are V8 data for the platform that made
 * them, and Node's SEA documentation says to leave both off for an executable of another
 * platform. Without them the blob is the script and the config flags, so one blob serves both
 * the x64 and the arm64 binary.
 */
import { spawn } from 'node:child_process';
import { copyFile, chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';
import { build } from 'esbuild';
import { SeaError } from './errors.ts';

/** The fuse Node checks at start; postject flips it once the blob is in. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const SEA_RESOURCE = 'NODE_SEA_BLOB';

/** Bundles `cli/sea.ts` into one CommonJS file, with nothing left to load from disk. */
export async function bundleForSea(repoRoot: string, outFile: string): Promise<void> {
  const result = await build({
    entryPoints: [path.join(repoRoot, 'cli/sea.ts')],
    outfile: outFile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node24',
    mainFields: ['module', 'main'],
    // The SEA's require() takes built-ins only; an import() left in (the AWS SDK has a few for
    // node:http and node:async_hooks) would go to the ESM loader, which has no file to resolve from.
    supported: { 'dynamic-import': false },
    // cli/ferry.ts starts itself under `import.meta.main` (with a top-level await a CommonJS
    // bundle cannot hold); here cli/sea.ts starts it.
    define: { 'import.meta.main': 'false' },
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  const external = Object.values(result.metafile.outputs)
    .flatMap((output) => output.imports)
    .filter((i) => i.external && !isBuiltin(i.path));
  if (external.length > 0) throw new SeaError(`the SEA bundle would load from disk: ${external.map((i) => i.path).join(', ')}`);
}

/**
 * Makes the preparation blob with this Node (`node --experimental-sea-config`); it must be
 * the version of the binaries it goes into, which the caller checks.
 */
export async function makeSeaBlob(repoRoot: string, buildDir: string, script: string): Promise<string> {
  const blob = path.join(buildDir, 'sea.blob');
  const config = path.join(buildDir, 'sea-config.json');
  await writeFile(
    config,
    `${JSON.stringify(
      {
        main: script,
        output: blob,
        disableExperimentalSEAWarning: true,
        useSnapshot: false,
        useCodeCache: false,
        // The V8 flags the shebang of cli/ferry.ts passes (see there why).
        execArgv: await shebangFlags(path.join(repoRoot, 'cli/ferry.ts')),
      },
      null,
      2,
    )}\n`,
  );
  await run(process.execPath, ['--experimental-sea-config', config], buildDir);
  return blob;
}

/** Copies `nodeBinary` to `outFile` with the blob injected, executable; written in place last. */
export async function injectBlob(nodeBinary: string, blob: string, outFile: string): Promise<void> {
  const partial = `${outFile}.partial`;
  try {
    await copyFile(nodeBinary, partial);
    await chmod(partial, 0o755);
    await postjectInject(partial, SEA_RESOURCE, await readFile(blob), { sentinelFuse: SEA_FUSE });
    await rename(partial, outFile);
  } catch (error) {
    await rm(partial, { force: true });
    if (error instanceof SeaError) throw error;
    throw new SeaError(`${path.basename(outFile)}: injecting the SEA blob failed`, { cause: error });
  }
}

interface PostjectOptions {
  sentinelFuse: string;
}

/** postject (devDependency) ships CommonJS without types; its API is this one function. */
async function postjectInject(file: string, resource: string, data: Buffer, options: PostjectOptions): Promise<void> {
  const postject = createRequire(import.meta.url)('postject') as {
    inject(file: string, resource: string, data: Buffer, options: PostjectOptions): Promise<void>;
  };
  // postject's WebAssembly build of LIEF warns about every nameless ELF note section on
  // stdout/stderr ("Can't find string offset…"): harmless, but noise in the build's output.
  await withQuietConsole(() => postject.inject(file, resource, data, options));
}

async function withQuietConsole<T>(work: () => Promise<T>): Promise<T> {
  const { log, warn } = console;
  console.log = () => undefined;
  console.warn = () => undefined;
  try {
    return await work();
  } finally {
    console.log = log;
    console.warn = warn;
  }
}

function run(command: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) => reject(new SeaError(`${path.basename(command)} ${args[0]}: cannot run`, { cause: error })));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new SeaError(`${path.basename(command)} ${args.join(' ')}: exit ${code}: ${output.trim()}`))));
  });
}

/** The Node flags on a script's `#!/usr/bin/env -S node …` line. */
export async function shebangFlags(script: string): Promise<string[]> {
  const first = (await readFile(script, 'utf8')).split('\n', 1)[0] ?? '';
  const match = /^#!\/usr\/bin\/env -S node(?<flags>(?: --[\w-]+(?:=\S+)?)*)\s*$/.exec(first);
  if (match === null) throw new SeaError(`${script}: its first line is not a \`#!/usr/bin/env -S node [--flag…]\` shebang`);
  return match.groups?.flags?.trim().split(/\s+/).filter(Boolean) ?? [];
}
