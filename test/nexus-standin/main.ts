/**
 * Runs the stand-in as a process (for the README demo):
 *   npx node test/nexus-standin/main.ts --repos raw-a:raw:hosted,raw-b:raw:hosted --port 0 [--user admin:secret]
 * Repository spec: name:format:type[:extra], where extra is the write policy for hosted
 * (allow | allow_once | deny), the '+'-joined member names for a group, the remote URL for a proxy.
 * Other flags: --backend sql|orient, --page-size N, --data-dir DIR.
 * Prints one JSON line {"url":"http://127.0.0.1:NNNN"} once listening; SIGTERM/SIGINT close it.
 */
import { parseArgs } from 'node:util';
import { startNexusStandin } from './server.ts';
import type { StandinOptions, StandinRepository } from './types.ts';

function parseRepository(spec: string): StandinRepository {
  const [name, format, type, ...rest] = spec.split(':');
  const extra = rest.join(':');
  if (!name || !format || (type !== 'hosted' && type !== 'proxy' && type !== 'group')) {
    throw new Error(`--repos: expected name:format:hosted|proxy|group[:extra], got ${JSON.stringify(spec)}`);
  }
  const repo: StandinRepository = { name, format, type };
  if (extra !== '') {
    if (type === 'hosted') {
      if (extra !== 'allow' && extra !== 'allow_once' && extra !== 'deny') throw new Error(`--repos: bad write policy in ${spec}`);
      repo.writePolicy = extra;
    } else if (type === 'group') repo.memberNames = extra.split('+');
    else repo.remoteUrl = extra;
  }
  return repo;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      repos: { type: 'string' },
      port: { type: 'string', default: '0' },
      user: { type: 'string', multiple: true },
      backend: { type: 'string', default: 'sql' },
      'page-size': { type: 'string' },
      'data-dir': { type: 'string' },
    },
    strict: true,
  });
  if (values.repos === undefined) throw new Error('--repos is required');
  const backend = values.backend;
  if (backend !== 'sql' && backend !== 'orient') throw new Error(`--backend: sql or orient, got ${backend}`);
  const options: StandinOptions = {
    repositories: values.repos.split(',').filter((spec) => spec !== '').map(parseRepository),
    backend,
    port: Number(values.port),
  };
  if (values['page-size'] !== undefined) options.pageSize = Number(values['page-size']);
  if (values['data-dir'] !== undefined) options.dataDir = values['data-dir'];
  if (values.user !== undefined) {
    options.users = values.user.map((pair) => {
      const colon = pair.indexOf(':');
      if (colon <= 0) throw new Error(`--user: expected name:password`);
      return { username: pair.slice(0, colon), password: pair.slice(colon + 1) };
    });
  }
  const standin = await startNexusStandin(options);
  process.stdout.write(`${JSON.stringify({ url: standin.url })}\n`);
  let closing = false;
  const shutdown = (): void => {
    if (closing) return;
    closing = true;
    standin.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`nexus-standin: close failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`nexus-standin: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
