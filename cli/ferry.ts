#!/usr/bin/env node
/**
 * `ferry`: the command line. It parses arguments, builds the embedded adapters and calls
 * the core; nothing else. Exit codes: 0 success, 1 failure, 2 bad usage or configuration.
 */
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, CredentialError } from '../shared/config/errors.ts';
import { exportCommand } from './commands/export.ts';
import { importCommand, verifyCommand } from './commands/import.ts';
import { inspectCommand } from './commands/inspect.ts';
import { keysGenerateCommand } from './commands/keys.ts';
import { registerBundlesCommands } from './commands/bundles.ts';
import { receiptApplyCommand } from './commands/receipt.ts';
import { UsageError } from './usage.ts';

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
    .addOption(new Option('--interval <seconds>', 'pause between runs when not --once').default('300').argParser(positiveInt('--interval')))
    .option('-v, --verbose', 'more detail')
    .action(exportCommand);

  program
    .command('import')
    .description('verify bundles completely, then load them into the target Nexus; writes a receipt per bundle')
    .requiredOption('-c, --config <file>', 'import configuration (YAML)')
    .option('--allow-gap', 'accept a bundle whose predecessors are missing, if every blob it needs is already here')
    .option('-v, --verbose', 'more detail')
    .argument('<bundle...>', 'bundle tar files (applied in sequence order)')
    .action(importCommand);

  program
    .command('verify')
    .description('check everything import checks, write nothing')
    .option('-c, --config <file>', 'import configuration (also checks chain position and the target)')
    .option('-k, --public-key <file>', 'a trusted public key, when no config is given (repeatable)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--allow-gap', 'as for import')
    .argument('<bundle...>', 'bundle tar files')
    .action(verifyCommand);

  program
    .command('inspect')
    .description('show what a bundle holds: entries, sizes, sources → targets (does not verify)')
    .option('--json', 'machine-readable output')
    .argument('<bundle>', 'bundle tar file')
    .action(inspectCommand);

  const receipt = program.command('receipt').description('receipts carried back from the isolated side');
  receipt
    .command('apply')
    .description('record what the far side holds, so later bundles do not ship it again')
    .requiredOption('-c, --config <file>', 'export configuration (YAML)')
    .argument('<receipt.json...>', 'receipt files written by ferry import')
    .action(receiptApplyCommand);

  const keys = program.command('keys').description('signing keys');
  keys
    .command('generate')
    .description('make a signing key pair: <name>.key (private, mode 0600) and <name>.pub')
    .requiredOption('-o, --out <dir>', 'directory for the key files')
    .option('-n, --name <name>', 'file name stem', 'ferry')
    .addOption(new Option('-a, --algorithm <algorithm>', 'signature algorithm').choices(['ed25519', 'ecdsa-p256-sha256']).default('ed25519'))
    .action(keysGenerateCommand);

  registerBundlesCommands(program);
  return program;
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
}
