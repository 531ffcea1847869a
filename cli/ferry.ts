#!/usr/bin/env -S node --max-semi-space-size=1 --liftoff-only --max-opt=2
/**
 * `ferry`: the command line. It parses arguments, builds the embedded adapters and calls
 * the core; nothing else. Exit codes: 0 success, 1 failure, 2 bad usage or configuration.
 *
 * The shebang's V8 flags (also the single executable's, read from here by scripts/exe/sea.ts)
 * buy resident memory that Ferry, which streams, has no use for; `npm run bench`, peak RSS rows:
 * - `--max-semi-space-size=1`: V8 sizes the young generation for throughput, and a long
 *   transfer keeps it at its largest, some 70 MB for nothing.
 * - `--liftoff-only`: undici parses HTTP with llhttp compiled to WebAssembly; V8 re-compiles
 *   it with its optimizing compiler in the background, about 10 MB of compiler memory and code.
 * - `--max-opt=2`: JavaScript tiers up to Maglev but not TurboFan, another 8 MB. The hot work
 *   (hashing, file and socket I/O) is native; the 100k scan, the most JavaScript-bound path,
 *   measured no slower.
 * Command modules load only when their command runs.
 */
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, CredentialError } from '../shared/config/errors.ts';
import { UsageError } from './usage.ts';
import { REQUIRED_NODE_MAJOR, unsupportedNode } from './node-version.ts';
import { registerDefinitionsCommands } from './commands/definitions.ts';

/** An action that imports its command's module when it runs, not when the program starts. */
function lazy<M>(load: () => Promise<M>, name: keyof M) {
  return async (...args: unknown[]): Promise<void> => {
    const command = (await load())[name] as (...a: unknown[]) => Promise<void>;
    await command(...args);
  };
}
const commands = {
  export: () => import('./commands/export.ts'),
  import: () => import('./commands/import.ts'),
  inspect: () => import('./commands/inspect.ts'),
  keys: () => import('./commands/keys.ts'),
  bundles: () => import('./commands/bundles.ts'),
  receipt: () => import('./commands/receipt.ts'),
  status: () => import('./commands/status.ts'),
  serve: () => import('./commands/serve.ts'),
  report: () => import('./commands/report.ts'),
};

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function buildProgram(): Command {
  const program = new Command('ferry')
    .description('Carries new artifacts from a connected Nexus to an air-gapped one, as signed bundles.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.configureHelp({ sortSubcommands: false });

  program
    .command('export')
    .description('scan the source Nexus, stage what is new, seal signed bundles')
    .requiredOption('-c, --config <file>', 'export configuration (YAML)')
    .option('--once', 'scan, copy and seal once, then exit')
    .option('--reconcile-deletions', 'also list every repository with deletions: carry in full and carry a tombstone for each path gone from the source')
    .addOption(new Option('--interval <seconds>', 'pause between runs when not --once').default('300').argParser(positiveInt('--interval')))
    .option('-v, --verbose', 'more detail')
    .action(lazy(commands.export, 'exportCommand'));

  program
    .command('serve')
    .description('run the export side as a service: Nexus webhooks, scheduled scan and seal, /healthz and /metrics')
    .requiredOption('-c, --config <file>', 'export configuration (YAML); its serve: section holds the defaults')
    .option('-l, --listen <host:port>', 'address of the webhook, health and metrics listener (default 127.0.0.1:8650)')
    .option('--scan-interval <seconds>', 'seconds between safety-net scans (default 900)', positiveInt('--scan-interval'))
    .option('--seal-interval <seconds>', 'seconds between seals (default 3600)', positiveInt('--seal-interval'))
    .option('--webhook-secret-file <file>', 'file holding the webhook secret (default: environment variable FERRY_WEBHOOK_SECRET)')
    .option('-v, --verbose', 'more detail')
    .action(lazy(commands.serve, 'serveCommand'));

  program
    .command('import')
    .description('verify bundles completely, then load them into the target Nexus; writes a receipt per bundle')
    .requiredOption('-c, --config <file>', 'import configuration (YAML)')
    .option('--allow-gap', 'accept a bundle whose predecessors are missing, if every blob it needs is already here')
    .option('-v, --verbose', 'more detail')
    .argument('<bundle...>', 'bundle tar files (applied in sequence order)')
    .action(lazy(commands.import, 'importCommand'));

  program
    .command('verify')
    .description('check everything import checks, write nothing')
    .option('-c, --config <file>', 'import configuration (also checks chain position and the target)')
    .option('-k, --public-key <file>', 'a trusted public key, when no config is given (repeatable)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--allow-gap', 'as for import')
    .argument('<bundle...>', 'bundle tar files')
    .action(lazy(commands.import, 'verifyCommand'));

  program
    .command('inspect')
    .description('show what a bundle holds: entries, sizes, sources → targets (does not verify)')
    .option('--json', 'machine-readable output')
    .argument('<bundle>', 'bundle tar file')
    .action(lazy(commands.inspect, 'inspectCommand'));

  program
    .command('report')
    .description('write a self-contained HTML report of a bundle for reviewers; verified when keys are given (a bundle that fails is refused)')
    .option('-o, --out <file>', 'where to write it (default: beside the bundle, <name>.html; - for stdout)')
    .option('-k, --public-key <file>', 'a trusted public key: verify before reporting (repeatable)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('-c, --config <file>', 'import configuration: verify with its trust.publicKeyFiles')
    .argument('<bundle>', 'bundle tar file')
    .action(lazy(commands.report, 'reportCommand'));

  program
    .command('status')
    .description('where a side stands: watermarks, pending, failed tasks, bundles, chain heads, receipts (reads only)')
    .option('-c, --config <file>', 'export or import configuration (YAML): the embedded side')
    .option('-t, --table <table>', 'the serverless side: its state table (stack output TableName)')
    .addOption(new Option('--side <side>', 'which side (default: from the config; with --table, export when --source-id is given)').choices(['export', 'import']))
    .option('-s, --source-id <id>', 'with --table: the export stack\'s sourceId')
    .option('--dlq-url <url>', 'with --table, export side: the dead-letter queue (output DeadLetterQueueUrl), to count failed tasks')
    .option('--held-bucket <bucket>', 'with --table, import side: the held-blobs bucket, to count held blobs and bytes')
    .option('--inbox-bucket <bucket>', 'with --table, import side: the inbox bucket, to list receipts')
    .option('--receipts-prefix <prefix>', 'with --inbox-bucket: where receipts are (default receipts/)')
    .option('-r, --region <region>', 'with --table: AWS region (default: from the AWS environment)')
    .option('--json', 'machine-readable output (format ferry.status.v1)')
    .action(lazy(commands.status, 'statusCommand'));

  const receipt = program.command('receipt').description('receipts carried back from the isolated side');
  receipt
    .command('apply')
    .description('record what the far side holds, so later bundles do not ship it again')
    .option('-c, --config <file>', 'export configuration (YAML): the embedded export side')
    .option('-t, --table <table>', 'the serverless export side: its state table (FerryExportStack output TableName)')
    .option('-s, --source-id <id>', 'with --table: the export stack\'s sourceId')
    .option('-k, --public-key <file>', 'with --table: a key receipts must be signed by (repeatable)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('-r, --region <region>', 'with --table: AWS region (default: from the AWS environment)')
    .argument('<receipt.json...>', 'receipt files written by ferry import')
    .action(lazy(commands.receipt, 'receiptApplyCommand'));

  const keys = program.command('keys').description('signing keys');
  keys
    .command('generate')
    .description('make a signing key pair: <name>.key (private, mode 0600) and <name>.pub')
    .requiredOption('-o, --out <dir>', 'directory for the key files')
    .option('-n, --name <name>', 'file name stem', 'ferry')
    .addOption(new Option('-a, --algorithm <algorithm>', 'signature algorithm').choices(['ed25519', 'ecdsa-p256-sha256']).default('ed25519'))
    .action(lazy(commands.keys, 'keysGenerateCommand'));

  registerBundlesCommands(program);
  registerDefinitionsCommands(program);
  return program;
}

// ───────────────────────────── bundles in S3 ─────────────────────────────

/** Adds `ferry bundles list` and `ferry bundles download` to the program. */
function registerBundlesCommands(program: Command): void {
  const bundles = program.command('bundles').description('sealed bundles in S3 (serverless deployment): list them, download them for the media');
  bundles
    .command('list')
    .description('list bundles with size, last modified and sha256 (when S3 knows it)')
    .requiredOption('-b, --bucket <bucket>', 'the export bucket (FerryExportStack output BucketName)')
    .option('-p, --prefix <prefix>', 'key prefix of the bundles', 'bundles/')
    .option('-r, --region <region>', 'AWS region (default: from the AWS environment)')
    .option('--json', 'machine-readable output')
    .action(lazy(commands.bundles, 'bundlesListCommand'));
  bundles
    .command('download')
    .description('download bundles (resumable, sha256-verified) into a directory; or print pre-signed URLs')
    .requiredOption('-b, --bucket <bucket>', 'the export bucket (FerryExportStack output BucketName)')
    .option('-o, --out <dir>', 'directory for the bundle files (required unless --presign)')
    .option('-p, --prefix <prefix>', 'key prefix of the bundles', 'bundles/')
    .option('-r, --region <region>', 'AWS region (default: from the AWS environment)')
    .option('--presign', 'print a pre-signed GET URL per bundle instead of downloading')
    .addOption(new Option('--expires <seconds>', 'lifetime of a pre-signed URL (at most 604800)').default('3600'))
    .argument('<name...>', 'bundle names as `bundles list` shows them')
    .action(lazy(commands.bundles, 'bundlesDownloadCommand'));
}

function positiveInt(what: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${what}: expected a positive whole number, got ${JSON.stringify(value)}`);
    return String(n);
  };
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  for (const command of [program, ...program.commands, ...program.commands.flatMap((c) => c.commands)]) command.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      return EXIT_USAGE;
    }
    if (error instanceof ConfigError || error instanceof CredentialError || error instanceof UsageError) {
      process.stderr.write(`ferry: ${error.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`ferry: ${describe(error)}\n`);
    return EXIT_FAILURE;
  }
}

/** The message, plus the causes' messages: a wrapped socket error says more than its wrapper. */
function describe(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  while (current instanceof Error && parts.length < 4) {
    if (!parts.some((p) => p.includes(current instanceof Error ? current.message : ''))) parts.push(current.message);
    current = current.cause;
  }
  return parts.length > 0 ? parts.join('\n  caused by: ') : String(error);
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
} else if (import.meta.main === undefined) {
  // Node before 24.2 has no import.meta.main: say so instead of exiting 0 having done nothing.
  process.stderr.write(`${unsupportedNode(process.version) ?? `ferry needs Node.js ${REQUIRED_NODE_MAJOR}.2 or later (import.meta.main)`}\n`);
  process.exitCode = 2;
}
