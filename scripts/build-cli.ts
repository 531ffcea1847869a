/**
 * Builds the `ferry` command into `dist/`: one ESM bundle per entry with the command modules
 * split into chunks that load only when their command runs. Running plain JavaScript skips
 * Node's TypeScript stripping (which loads its own compiler) and the resolution of a few
 * hundred modules at every start: the process starts in about half the memory.
 *
 *   node scripts/build-cli.ts           # npm ci runs it (prepare); so do npm run ferry and the tests
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = path.join(REPO_ROOT, 'dist');
/** The built command: `bin.ferry` in package.json. */
export const BUILT_CLI = path.join(DIST, 'ferry.js');

export async function buildCli(): Promise<void> {
  await rm(DIST, { recursive: true, force: true });
  await build({
    entryPoints: { ferry: path.join(REPO_ROOT, 'cli/ferry.ts') },
    outdir: DIST,
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
