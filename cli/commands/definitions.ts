/**
 * `ferry definitions`: the serverless deployment's sync definitions — the carried
 * repositories in the export stack's state table — listed, read, created or replaced, and
 * removed, each change recorded with who and when (the same store, validation and audit
 * trail as the definitions Function URL). The embedded default has none: its config file is
 * the one source. Heavy modules load only when a subcommand runs.
 */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { DefinitionRecord, DefinitionStore } from '../../shared/config/definitions.ts';
import { ConfigError, DefinitionsCallerError, InvalidDefinitionError } from '../../shared/config/errors.ts';
import { UsageError } from '../usage.ts';

interface TableOptions {
  table: string;
  sourceId?: string;
  region?: string;
}

interface ChangeCliOptions extends TableOptions {
  ifVersion?: string;
  actor?: string;
}

/** Adds `ferry definitions list|get|put|delete|history` to the program. */
export function registerDefinitionsCommands(program: Command): void {
  const definitions = program.command('definitions').description('the carried repositories of the serverless export side (sync definitions in its state table)');
  const withTable = (command: Command) =>
    command
      .requiredOption('-t, --table <table>', 'the export stack\'s state table (output TableName)')
      .option('-s, --source-id <id>', 'the export stack\'s sourceId (default: the one source the table holds)')
      .option('-r, --region <region>', 'AWS region (default: from the AWS environment)');
  const asChange = (command: Command) =>
    command
      .option('--if-version <n>', 'only if the definition is at this version now (as If-Match)')
      .option('--actor <who>', 'who makes the change, for the audit trail (default: your AWS identity\'s ARN, from STS)');

  withTable(definitions.command('list').description('the repositories carried now (with --removed, the removed ones too)'))
    .option('--removed', 'include removed repositories')
    .option('--json', 'machine-readable output')
    .action(async (options: TableOptions & { removed?: boolean; json?: boolean }) => listCommand(options));
  withTable(definitions.command('get').description('one repository\'s definition, version and last change'))
    .option('--json', 'machine-readable output')
    .argument('<name>', 'repository name')
    .action(async (name: string, options: TableOptions & { json?: boolean }) => getCommand(name, options));
  asChange(withTable(definitions.command('put').description('create or replace a repository definition (JSON or YAML, as one entry of the repositories context)')))
    .addOption(new Option('--create', 'only if no such repository is defined now (as If-None-Match: *)'))
    .argument('<file>', 'the definition (- for standard input)')
    .action(async (file: string, options: ChangeCliOptions & { create?: boolean }) => putCommand(file, options));
  asChange(withTable(definitions.command('delete').description('stop carrying a repository: no new tasks; what was staged is still sealed')))
    .argument('<name>', 'repository name')
    .action(async (name: string, options: ChangeCliOptions) => deleteCommand(name, options));
  withTable(definitions.command('history').description('the audit trail: each change with who and when, oldest first'))
    .option('--json', 'machine-readable output')
    .argument('[name]', 'only this repository')
    .action(async (name: string | undefined, options: TableOptions & { json?: boolean }) => historyCommand(name, options));
}

/** The store of the table's source, and how to let go of its client. */
async function openStore(options: TableOptions): Promise<{ store: DefinitionStore; close(): void }> {
  const [{ DynamoDBClient }, { DynamoDBDocumentClient }, { DynamoDefinitionStore, definitionSources }] = await Promise.all([
    import('@aws-sdk/client-dynamodb'),
    import('@aws-sdk/lib-dynamodb'),
    import('../../shared/adapters/aws/dynamo-definitions.ts'),
  ]);
  // The endpoint comes from the SDK's own AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL when set.
  const dynamo = new DynamoDBClient(options.region ? { region: options.region } : {});
  const client = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  try {
    let sourceId = options.sourceId;
    if (sourceId === undefined) {
      const sources = await definitionSources(client, options.table);
      if (sources.length !== 1) {
        throw new UsageError(
          sources.length === 0
            ? `table ${options.table} holds no repository definitions (is it the export stack's TableName output?)`
            : `table ${options.table} holds the definitions of several sources (${sources.join(', ')}): name one with --source-id`,
        );
      }
      sourceId = sources[0]!;
    }
    return { store: new DynamoDefinitionStore({ client, table: options.table, sourceId }), close: () => dynamo.destroy() };
  } catch (error) {
    dynamo.destroy();
    throw error;
  }
}

async function withStore<T>(options: TableOptions, run: (store: DefinitionStore) => Promise<T>): Promise<T> {
  const { store, close } = await openStore(options);
  try {
    return await run(store);
  } finally {
    close();
  }
}

const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};
const json = (value: unknown) => out(JSON.stringify(value, null, 2));

async function changeOptions(options: ChangeCliOptions) {
  let ifVersion: number | undefined;
  if (options.ifVersion !== undefined) {
    ifVersion = Number(options.ifVersion);
    if (!Number.isInteger(ifVersion) || ifVersion < 1) throw new UsageError(`--if-version: expected a version number, got ${JSON.stringify(options.ifVersion)}`);
  }
  return { by: options.actor ?? (await callerArn(options.region)), via: 'cli' as const, ifVersion };
}

/**
 * Who makes the change, as AWS knows them: the caller's ARN (STS GetCallerIdentity, which needs
 * no permission). A name typed by the operator is only a claim; `--actor` is for a machine that
 * cannot reach STS, and says so by being asked for.
 */
async function callerArn(region: string | undefined): Promise<string> {
  const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  const sts = new STSClient({ ...(region ? { region } : {}), maxAttempts: 2 });
  try {
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    if (identity.Arn === undefined) throw new Error('the answer named no ARN');
    return identity.Arn;
  } catch (error) {
    throw new DefinitionsCallerError(error);
  } finally {
    sts.destroy();
  }
}

/** `updated 2025-01-15T10:20:30Z by <who> (api)`, or how it was seeded. */
const lastChange = (r: DefinitionRecord) =>
  r.removed !== undefined ? `removed ${r.removed.at} by ${r.removed.by} (${r.removed.via})` : r.updatedAt === undefined ? `seeded by ${r.updatedBy}` : `updated ${r.updatedAt} by ${r.updatedBy} (${r.via})`;

async function listCommand(options: TableOptions & { removed?: boolean; json?: boolean }): Promise<void> {
  const definitions = await withStore(options, (store) => store.read());
  const shown = definitions.repositories.filter((r) => options.removed || r.removed === undefined);
  if (options.json) return json({ ...definitions, repositories: shown });
  const rows = shown.map((r) => [r.name, r.definition.format, r.definition.target ?? r.name, `v${r.version}`, lastChange(r)]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]!.length), 4));
  for (const row of rows) out(row.map((cell, i) => (i < 4 ? cell.padEnd(widths[i]!) : cell)).join('  '));
  if (rows.length === 0) out('(no repositories are carried)');
}

async function getCommand(name: string, options: TableOptions & { json?: boolean }): Promise<void> {
  const definitions = await withStore(options, (store) => store.read());
  const record = definitions.repositories.find((r) => r.name === name && r.removed === undefined);
  if (record === undefined) {
    const { DefinitionNotFoundError } = await import('../../shared/config/errors.ts');
    throw new DefinitionNotFoundError(name);
  }
  if (options.json) return json(record);
  out(`${record.name}: version ${record.version}, ${lastChange(record)}`);
  json(record.definition);
}

async function putCommand(file: string, options: ChangeCliOptions & { create?: boolean }): Promise<void> {
  const text = file === '-' ? await readStdin() : await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`${file}: cannot read (${error.code ?? error.message})`, { cause: error });
  });
  const { parseYaml } = await import('../../shared/config/load.ts');
  const input = parseYaml(text, file);
  const change = { ...(await changeOptions(options)), ifAbsent: options.create === true };
  try {
    const { record, created, changed } = await withStore(options, (store) => store.put(input, change));
    out(changed ? `${created ? 'defined' : 'changed'} ${record.name} (version ${record.version}): the next scan and webhook carry it so` : `${record.name} is already defined so (version ${record.version}): nothing changed`);
  } catch (error) {
    // Name the file the problems are in, as a bad config file is reported.
    if (error instanceof InvalidDefinitionError) throw new ConfigError(file, error.problems, { cause: error });
    throw error;
  }
}

async function deleteCommand(name: string, options: ChangeCliOptions): Promise<void> {
  const change = await changeOptions(options);
  const record = await withStore(options, (store) => store.remove(name, change));
  out(`removed ${record.name} (version ${record.version}): no new tasks for it; what was staged is still sealed`);
}

async function historyCommand(name: string | undefined, options: TableOptions & { json?: boolean }): Promise<void> {
  const changes = await withStore(options, (store) => store.history(name));
  if (options.json) return json(changes);
  for (const c of changes) out(`${c.at}  ${c.action.padEnd(6)}  ${c.repository} v${c.version}  by ${c.by} (${c.via})`);
  if (changes.length === 0) out('(no changes since the seed)');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
