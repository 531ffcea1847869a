/**
 * `ferry serve`: the embedded export side as a long-running service, triggered like the
 * deployed one — Nexus webhooks queue copy tasks at once, a schedule scans (the safety net)
 * and seals — with `/healthz` and `/metrics` beside the webhook. SIGTERM or SIGINT: stop
 * accepting and scheduling, finish the copies and the seal in hand, exit 0.
 */
import { once } from 'node:events';
import { SqliteWebhookDeliveries } from '../../shared/adapters/embedded/webhook-deliveries.ts';
import { loadExportConfig, type ResolvedExportConfig } from '../../shared/config/export-config.ts';
import { resolveFrom } from '../../shared/config/load.ts';
import { listenProblem, parseListenAddress, resolveWebhookSecret, type ListenAddress } from '../../shared/config/serve-config.ts';
import { makeOutput, type Output } from '../output.ts';
import { ServeHttp, type Health } from '../serve/http.ts';
import { ServeLoop, type ServeSchedule } from '../serve/loop.ts';
import { ServeMetrics } from '../serve/metrics.ts';
import { makeWebhookEndpoint } from '../serve/webhook-endpoint.ts';
import { UsageError } from '../usage.ts';
import { openExport, type EmbeddedExport } from './export.ts';
import { listingOnce, reconcileDeletions } from '../../shared/core/export/reconcile.ts';

export interface ServeOptions {
  config: string;
  listen?: string;
  scanInterval?: string;
  sealInterval?: string;
  webhookSecretFile?: string;
  verbose?: boolean;
}

interface ServeSettings {
  listen: ListenAddress;
  schedule: ServeSchedule;
  secretFile: string | undefined;
}

/** The config's `serve:` section with the command line's options over it. */
function settingsOf(config: ResolvedExportConfig, options: ServeOptions): ServeSettings {
  const problem = options.listen === undefined ? undefined : listenProblem(options.listen);
  if (problem !== undefined) throw new UsageError(problem);
  const serve = config.serve;
  const configured = serve.webhook.secretFile === undefined ? undefined : resolveFrom(config.configDir, serve.webhook.secretFile);
  return {
    listen: options.listen === undefined ? serve.listen : parseListenAddress(options.listen)!,
    schedule: {
      scanIntervalMs: Number(options.scanInterval ?? serve.scanIntervalSeconds) * 1000,
      sealIntervalMs: Number(options.sealInterval ?? serve.sealIntervalSeconds) * 1000,
      copyConcurrency: config.copy.concurrency,
      maxAttempts: config.copy.maxAttempts,
    },
    secretFile: options.webhookSecretFile ?? configured,
  };
}

/** The parts of a running server, wired over one embedded export side. */
interface Served {
  loop: ServeLoop;
  http: ServeHttp;
}

async function startServing(exported: EmbeddedExport, settings: ServeSettings, secret: string, out: Output): Promise<Served> {
  const deliveries = new SqliteWebhookDeliveries(exported.db);
  const watermarks = async () => {
    const found = new Map<string, string>();
    for (const name of new Set([...exported.repositories.map((r) => r.name), ...loop.scanned])) {
      const watermark = await exported.state.getWatermark(name);
      if (watermark !== undefined) found.set(name, watermark);
    }
    return found;
  };
  const metrics = new ServeMetrics({ taskCounts: () => exported.queue.counts(), watermarks });
  const carrying = exported.repositories.filter((r) => r.carryDeletions === true);
  const reconcile = async () => {
    const source = listingOnce(exported.source);
    for (const repository of carrying) {
      const reconciled = await reconcileDeletions({ source, state: exported.state }, repository);
      out.log.info(`reconciled deletions of ${repository.name}: ${reconciled.skipped ?? `${reconciled.staged} tombstone(s) for paths gone from the source`}`);
    }
  };
  const loop = new ServeLoop({ exporter: exported.exporter, queue: exported.queue, log: out.log, metrics, reconcileDeletions: carrying.length > 0 ? reconcile : undefined }, settings.schedule);
  const webhook = makeWebhookEndpoint({
    secret,
    source: exported.source,
    state: exported.state,
    queue: exported.queue,
    deliveries,
    repositories: exported.repositories,
    log: out.log,
    metrics,
    queued: () => loop.kick(),
    reconcileSoon: () => loop.reconcileSoon(),
  });
  const health = (): Health => {
    let db = 'ok';
    try {
      exported.db.prepare('SELECT 1').get();
    } catch (error) {
      db = (error as Error).message;
    }
    return { ok: db === 'ok' && loop.state === 'running', detail: { db, loop: loop.state } };
  };
  const http = await ServeHttp.listen(settings.listen, { webhook, metrics, health, log: out.log });
  return { loop, http };
}

export async function serveCommand(options: ServeOptions): Promise<void> {
  const config = await loadExportConfig(options.config);
  const settings = settingsOf(config, options);
  const secret = await resolveWebhookSecret(config.serve.webhook, settings.secretFile);
  const out = makeOutput({ verbose: options.verbose ?? false });
  const exported = await openExport(config, out);
  try {
    const { loop, http } = await startServing(exported, settings, secret, out);
    out.log.info(`listening on ${http.url} (POST /webhook for Nexus, GET /healthz, GET /metrics)`);
    const signalled = new AbortController();
    const stopSignals = ['SIGTERM', 'SIGINT'].map((name) => once(process, name, { signal: signalled.signal }).then(() => name));
    const running = loop.start();
    // A loop that crashed ends the wait too; `await running` below then throws its error (exit 1).
    const first = await Promise.race([running.then(() => undefined, () => undefined), ...stopSignals]);
    signalled.abort();
    if (first !== undefined) out.log.info(`${first}: stopping; finishing the task in hand`);
    http.stopAccepting();
    await loop.stop();
    await http.closed();
    await running;
    out.log.info('stopped: the work in hand is finished, queued tasks wait in the state file');
  } finally {
    await exported.close();
  }
}
