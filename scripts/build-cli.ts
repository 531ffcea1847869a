/**
 * Builds the `ferry` command into `dist/`: one ESM bundle per entry with the command modules
 * split into chunks that load only when their command runs. Running plain JavaScript skips
 * Node's TypeScript stripping (which loads its own compiler) and the resolution of a few
 * hundred modules at every start: the process starts in about half the memory.
 *
 *   node scripts/build-cli.ts           # npm ci runs it (prepare); so do npm run ferry and the tests
 */
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = path.join(REPO_ROOT, 'dist');
/** The built command: `bin.ferry` in package.json. */
export const BUILT_CLI = path.join(DIST, 'ferry.js');

/**
 * Builds into a fresh directory, then moves the files in: chunks first (content-hashed names,
 * so an equal chunk is simply replaced), the entry last. A `ferry` started meanwhile, or
 * another build running at the same time (parallel test runs), never sees a half-built dist.
 */
export async function buildCli(): Promise<void> {
  await mkdir(path.join(DIST, 'chunks'), { recursive: true });
  // A sibling of dist/ at its depth, so the source maps' relative paths hold after the move.
  const out = await mkdtemp(path.join(REPO_ROOT, '.dist-build-'));
  try {
    await bundle(out);
    const chunks = await readdir(path.join(out, 'chunks'));
    for (const chunk of chunks) await rename(path.join(out, 'chunks', chunk), path.join(DIST, 'chunks', chunk));
    for (const file of ['ferry.js.map', 'ferry.js']) await rename(path.join(out, file), path.join(DIST, file));
    await removeStaleChunks(new Set(chunks));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** Chunks of earlier builds, once no process started in the last hour can still load them. */
async function removeStaleChunks(current: Set<string>): Promise<void> {
  const cutoff = Date.now() - 60 * 60 * 1000;
  for (const chunk of await readdir(path.join(DIST, 'chunks'))) {
    const file = path.join(DIST, 'chunks', chunk);
    if (!current.has(chunk) && (await stat(file)).mtimeMs < cutoff) await rm(file, { force: true });
  }
}

async function bundle(outdir: string): Promise<void> {
  await build({
    entryPoints: { ferry: path.join(REPO_ROOT, 'cli/ferry.ts') },
    outdir,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    // ESM builds first: a dynamic import() of a CommonJS build (the AWS SDK's dist-cjs) comes
    // back from a split bundle with only `default`, and ESM builds tree-shake better.
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    logLevel: 'warning',
    // CommonJS dependencies call require(); an ESM bundle has none unless we make one.
    banner: { js: "import{createRequire as __ferryCreateRequire}from'node:module';const require=__ferryCreateRequire(import.meta.url);" },
  });
}

if (import.meta.main) await buildCli();
