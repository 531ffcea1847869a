/**
 * How every Ferry Lambda is bundled: the one description that NodejsFunction (infra/common.ts)
 * and esbuild's own API (the benchmark, test/lambda-bundles.test.ts) both build from, so the
 * bundle measured is the bundle deployed (test/infra.test.ts compares them byte for byte).
 *
 * Each bundle stays under 1 MB because:
 * - the AWS SDK is the runtime's, not bundled (RUNTIME_SDK_PACKAGES, and its cost below);
 * - undici comes without its index (shared/http/undici.ts) and without its experimental
 *   Milo parser (`define`): 330 KB instead of 720 KB;
 * - zod is imported as a namespace (`import * as z from 'zod'`), never as `{ z }`, and
 *   nothing reads `z.core` or Powertools' parser schemas: a namespace imported by name
 *   keeps all of zod, every locale included (some 350 KB);
 * - a module imports only what the functions using it need (functions/wiring.ts).
 *
 * The SDK from the runtime, what it costs: the deployed functions run the AWS SDK that
 * Lambda's nodejs24.x runtime ships (its "runtime-included SDK version"), not the versions
 * package.json pins and the tests run. AWS updates it with the runtime, without notice, unless
 * the function pins a runtime version (runtime management, manual mode). So a command or
 * export newer than the runtime's SDK fails the cold start (loudly); an input field newer
 * than its serializers would be dropped silently (Ferry's writes rely only on DynamoDB
 * condition expressions and S3 calls far older than nodejs24.x); and SDK defaults (retries,
 * S3 integrity checksums) can change under a deployed function. Bundled, the SDK (with
 * @smithy) adds 0.55–0.65 MB to each function, 1.46–1.57 MB in all: none would fit in 1 MB.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The Lambda entry points in `functions/`: one per stage of the flow, and the definitions API. */
export const FUNCTION_NAMES = ['webhook', 'scan', 'copy', 'seal', 'import', 'definitions'] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

export const functionEntry = (name: FunctionName): string => path.join(REPO_ROOT, 'functions', `${name}.ts`);

/**
 * The AWS SDK packages the functions import, left out of their bundles: the nodejs24.x
 * runtime provides them (all of SDK v3, under /var/runtime/node_modules, importable from an
 * ES module handler). Exactly these, no other SDK code bundled: test/lambda-bundles.test.ts.
 */
export const RUNTIME_SDK_PACKAGES = [
  '@aws-sdk/client-dynamodb',
  '@aws-sdk/client-kms',
  '@aws-sdk/client-lambda',
  '@aws-sdk/client-s3',
  '@aws-sdk/client-secrets-manager',
  '@aws-sdk/client-sqs',
  '@aws-sdk/lib-dynamodb',
  '@aws-sdk/lib-storage',
  '@aws-sdk/util-dynamodb',
] as const;

/** NodejsFunction's bundling: local esbuild, minified ESM with source maps (stack traces name `shared/…` lines). */
export const LAMBDA_BUNDLING = {
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  target: 'node24',
  format: OutputFormat.ESM,
  mainFields: ['module', 'main'],
  externalModules: [...RUNTIME_SDK_PACKAGES],
  // undici leaves out its experimental Milo HTTP parser (opt-in, UNDICI_USE_MILO) when this is
  // defined, as Node's own build of it does; llhttp, the default parser, stays.
  define: { esbuildDetection: 'true' },
  // CommonJS dependencies call require(); an ESM bundle has none unless we make one.
  banner: "import{createRequire as __ferryCreateRequire}from'node:module';const require=__ferryCreateRequire(import.meta.url);",
} satisfies BundlingOptions;

/**
 * esbuild's options for function `name`, writing `<outdir>/index.mjs`: what NodejsFunction
 * passes to esbuild's command line for LAMBDA_BUNDLING, from the same directory.
 */
export function lambdaBuildOptions(name: FunctionName, outdir: string): BuildOptions {
  const b = LAMBDA_BUNDLING;
  // One entry per bundling option, which the type insists on: none can be left out here.
  const translated: { [K in keyof typeof LAMBDA_BUNDLING]: BuildOptions } = {
    minify: { minify: b.minify },
    sourceMap: { sourcemap: b.sourceMap },
    sourcesContent: { sourcesContent: b.sourcesContent },
    target: { target: b.target },
    format: { format: b.format === OutputFormat.ESM ? 'esm' : 'cjs' },
    mainFields: { mainFields: b.mainFields },
    externalModules: { external: b.externalModules },
    define: { define: b.define },
    banner: { banner: { js: b.banner } },
  };
  const base: BuildOptions = { entryPoints: [functionEntry(name)], outfile: path.join(outdir, 'index.mjs'), bundle: true, platform: 'node', absWorkingDir: REPO_ROOT, logLevel: 'warning' };
  return Object.assign(base, ...Object.values(translated));
}
