/**
 * `ferry serve` as a real child process against Nexus stand-ins: webhook deliveries (signed,
 * forged, duplicate), the schedule that seals, /healthz, /metrics parsed as Prometheus text,
 * and what SIGTERM and SIGKILL leave behind.
 *
 * Assets arrive with a `lastModified` long before the first scan's watermark, so no scan
 * finds them: whatever reaches a bundle came by its webhook.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { bundles, content, makeWorld, runFerry, type World } from './support/world.ts';
import { componentEvent, deliver, occurrences, sample, scrape, startServe, stopServe, until, WEBHOOK_SECRET, type ServeProcess, killIfRunning } from './support/serve.ts';

const LONG_AGO = new Date('2001-01-01T00:00:00Z');

/** One raw repository; the safety-net scan runs at start only, a seal every second. */
function servedWorld(): Promise<World> {
  return makeWorld({ repositories: ['raw-a'], exportOverrides: { serve: { scanIntervalSeconds: 3600, sealIntervalSeconds: 1 } } });
}

/** Every raw entry path in the world's bundles, bundle by bundle. */
async function sealedPaths(world: World): Promise<string[][]> {
  const out: string[][] = [];
  for (const file of await bundles(world)) {
    const summary = await readBundleSummary(createReadStream(file), path.basename(file));
    out.push(summary.manifest.entries.map((e) => (e.kind === 'raw' ? e.source.path : e.kind)));
  }
  return out;
}

const downloads = (world: World, p: string) => world.source.requests.filter((r) => r.method === 'GET' && r.url === `/repository/raw-a${p}`);
const componentReads = (world: World) => world.source.requests.filter((r) => r.url.startsWith('/service/rest/v1/components/')).length;

describe('ferry serve', () => {
  let world: World;
  let serve: ServeProcess | undefined;
  afterEach(async () => {
    await killIfRunning(serve);
    serve = undefined;
    await world?.close();
  });

  it('a delivery Nexus signs gets 202; the component is staged and sealed into a bundle', async () => {
    // Prepare
    world = await servedWorld();
    serve = await startServe(world);
    world.source.addWebhook({ repository: 'raw-a', url: `${serve.url}/webhook`, secret: WEBHOOK_SECRET, events: ['component'] });

    // Act: an upload on the source; the stand-in delivers the webhook as Nexus does
    world.source.putRawAsset('raw-a', '/hooked/app-1.0.bin', content('hooked', 5000), { lastModified: LONG_AGO });
    await world.source.webhooksIdle();
    await until(async () => (await sealedPaths(world)).flat().includes('/hooked/app-1.0.bin'), 'a bundle with the webhook\'s component');

    // Assess
    expect(world.source.webhookDeliveries).toBe(1);
    expect(world.source.webhookFailures).toBe(0);
    expect(await sealedPaths(world)).toEqual([['/hooked/app-1.0.bin']]);
    expect(downloads(world, '/hooked/app-1.0.bin')).toHaveLength(1);
    expect(serve.stderr).toMatch(/webhook delivery \S+: 1 task\(s\) queued/);
    expect(serve.stderr).not.toContain(WEBHOOK_SECRET);
  });

  it('a forged delivery gets 401 and records nothing; a bad body gets 400 naming the field', async () => {
    // Prepare
    world = await servedWorld();
    serve = await startServe(world);
    const { componentId } = world.source.putRawAsset('raw-a', '/forged/x.bin', content('forged', 700), { lastModified: LONG_AGO });
    const body = componentEvent('raw-a', componentId, 'forged/x.bin');

    // Act
    const wrongSecret = await deliver(serve, body, { deliveryId: 'delivery-f', secret: 'not-the-secret' });
    const unsigned = await deliver(serve, body, { deliveryId: 'delivery-f', signature: null });
    const notJson = await deliver(serve, '{"timestamp":', { deliveryId: 'delivery-j' });
    const noComponentId = await deliver(serve, body.replace(`"componentId":"${componentId}",`, ''), { deliveryId: 'delivery-c' });
    const readsAfterRefusals = componentReads(world);
    const { families } = await scrape(serve);
    const genuine = await deliver(serve, body, { deliveryId: 'delivery-f' });

    // Assess
    expect([wrongSecret.status, unsigned.status]).toEqual([401, 401]);
    expect(wrongSecret.body.message).toBe('X-Nexus-Webhook-Signature: missing or invalid');
    expect(notJson).toEqual({ status: 400, body: { message: '(body): not JSON' } });
    expect(noComponentId).toEqual({ status: 400, body: { message: 'component.componentId: required' } });
    expect(readsAfterRefusals).toBe(0);
    expect(['queued', 'running', 'done', 'failed'].map((state) => sample(families, 'ferry_tasks', { state }))).toEqual([0, 0, 0, 0]);
    expect(sample(families, 'ferry_webhook_deliveries_total', { outcome: 'forged' })).toBe(2);
    expect(sample(families, 'ferry_webhook_deliveries_total', { outcome: 'invalid' })).toBe(2);
    // The forged attempts left no record of their delivery id: the genuine one is not a duplicate.
    expect(genuine).toEqual({ status: 202, body: { deliveryId: 'delivery-f', tasks: 1, alreadyStaged: 0 } });
  });

  it('a duplicate delivery queues nothing new, also after a restart', async () => {
    // Prepare: one delivery, carried into a bundle
    world = await servedWorld();
    serve = await startServe(world);
    const { componentId } = world.source.putRawAsset('raw-a', '/dup/lib.jar', content('dup', 1500), { lastModified: LONG_AGO });
    const body = componentEvent('raw-a', componentId, 'dup/lib.jar');
    const first = await deliver(serve, body, { deliveryId: 'delivery-1' });
    await until(async () => (await bundles(world)).length === 1, 'the first bundle');
    const readsBefore = componentReads(world);

    // Act: the same delivery again, then after a restart, then the same event under a new id
    const again = await deliver(serve, body, { deliveryId: 'delivery-1' });
    const stopped = await stopServe(serve);
    serve = await startServe(world);
    const afterRestart = await deliver(serve, body, { deliveryId: 'delivery-1' });
    const readsOfDuplicates = componentReads(world) - readsBefore;
    const sameEvent = await deliver(serve, body, { deliveryId: 'delivery-2' });
    await sleep(2_500); // two seal intervals: a new task would be sealed by now
    const { families } = await scrape(serve);

    // Assess
    expect(first).toEqual({ status: 202, body: { deliveryId: 'delivery-1', tasks: 1, alreadyStaged: 0 } });
    expect(stopped).toEqual({ code: 0, signal: null });
    expect(again).toEqual({ status: 200, body: { deliveryId: 'delivery-1', duplicate: true, tasks: 1, alreadyStaged: 0 } });
    expect(afterRestart).toEqual(again);
    expect(readsOfDuplicates).toBe(0);
    expect(sameEvent).toEqual({ status: 202, body: { deliveryId: 'delivery-2', tasks: 0, alreadyStaged: 1 } });
    expect(sample(families, 'ferry_tasks', { state: 'done' })).toBe(1);
    expect(sample(families, 'ferry_webhook_deliveries_total', { outcome: 'duplicate' })).toBe(1);
    expect(await sealedPaths(world)).toEqual([['/dup/lib.jar']]);
    expect(downloads(world, '/dup/lib.jar')).toHaveLength(1);
  });

  it('/metrics is Prometheus text with tasks, bytes staged and deduplicated, bundle sizes, scan lag, failures and deliveries; /healthz answers 200', async () => {
    // Prepare: one artifact for the first scan, then the same bytes at another path by webhook
    world = await servedWorld();
    world.source.putRawAsset('raw-a', '/scanned/a.bin', content('same', 3000));
    serve = await startServe(world);
    await until(async () => sample((await scrape(serve!)).families, 'ferry_tasks', { state: 'done' }) === 1, 'the scanned artifact staged');
    const { componentId } = world.source.putRawAsset('raw-a', '/hooked/b.bin', content('same', 3000), { lastModified: LONG_AGO });
    await deliver(serve, componentEvent('raw-a', componentId, 'hooked/b.bin'), { deliveryId: 'delivery-m' });
    await deliver(serve, '{}', { deliveryId: 'delivery-x', secret: 'forged' });
    // A bundle file appears just before its seal is counted, and an entry may be sealed just before its task is marked done.
    const settled = async () => {
      const { families: now } = await scrape(serve!);
      const sealed = (await sealedPaths(world)).flat().length === 2;
      return sealed && sample(now, 'ferry_tasks', { state: 'done' }) === 2 && sample(now, 'ferry_bundles_sealed_total') === (await bundles(world)).length;
    };
    await until(settled, 'both artifacts sealed and counted');

    // Act
    const { contentType, families } = await scrape(serve);
    const health = await fetch(`${serve.url}/healthz`);

    // Assess
    const files = await bundles(world);
    const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', db: 'ok', loop: 'running' });
    const types = Object.fromEntries([...families.values()].filter((f) => f.name.startsWith('ferry_')).map((f) => [f.name, f.type]));
    expect(types).toEqual({
      ferry_copies_total: 'COUNTER',
      ferry_staged_bytes_total: 'COUNTER',
      ferry_deduplicated_bytes_total: 'COUNTER',
      ferry_copy_retries_total: 'COUNTER',
      ferry_failures_total: 'COUNTER',
      ferry_bundles_sealed_total: 'COUNTER',
      ferry_bundle_bytes: 'HISTOGRAM',
      ferry_webhook_deliveries_total: 'COUNTER',
      ferry_webhook_tasks_total: 'COUNTER',
      ferry_tasks: 'GAUGE',
      ferry_scan_lag_seconds: 'GAUGE',
    });
    expect(['queued', 'running', 'done', 'failed'].map((state) => sample(families, 'ferry_tasks', { state }))).toEqual([0, 0, 2, 0]);
    expect(sample(families, 'ferry_copies_total', { outcome: 'staged' })).toBe(1);
    expect(sample(families, 'ferry_copies_total', { outcome: 'deduplicated' })).toBe(1);
    expect(sample(families, 'ferry_staged_bytes_total')).toBe(3000);
    expect(sample(families, 'ferry_deduplicated_bytes_total')).toBe(3000);
    expect(sample(families, 'ferry_bundles_sealed_total')).toBe(files.length);
    const histogram = families.get('ferry_bundle_bytes')!.metrics[0]!;
    expect(Number(histogram.count)).toBe(files.length);
    expect(Number(histogram.sum)).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(Number(histogram.buckets!['+Inf'])).toBe(files.length);
    const lag = sample(families, 'ferry_scan_lag_seconds', { repository: 'raw-a' })!;
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(120);
    for (const stage of ['scan', 'copy', 'seal', 'webhook']) expect(sample(families, 'ferry_failures_total', { stage }), stage).toBe(0);
    expect(sample(families, 'ferry_webhook_deliveries_total', { outcome: 'accepted' })).toBe(1);
    expect(sample(families, 'ferry_webhook_deliveries_total', { outcome: 'forged' })).toBe(1);
    expect(sample(families, 'ferry_webhook_tasks_total')).toBe(1);
    expect(families.has('process_resident_memory_bytes')).toBe(true);
  });

  it('SIGTERM mid-copy finishes the task in hand and exits 0', async () => {
    // Prepare: the download answers after 1.5 s
    world = await servedWorld();
    serve = await startServe(world, ['--verbose']);
    world.source.addWebhook({ repository: 'raw-a', url: `${serve.url}/webhook`, secret: WEBHOOK_SECRET, events: ['component'] });
    world.source.injectFault({ method: 'GET', url: /^\/repository\/raw-a\/slow\.bin$/, kind: 'delay', ms: 1_500, times: 1 });
    world.source.putRawAsset('raw-a', '/slow.bin', content('slow', 8000), { lastModified: LONG_AGO });
    await until(() => /copying raw-a\/slow\.bin/.test(serve!.stderr), 'the copy to start');

    // Act
    const downloadedBeforeSignal = downloads(world, '/slow.bin').length;
    const exit = await stopServe(serve, 'SIGTERM');
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);

    // Assess: the copy finished before the exit, so the next run only seals it
    expect(downloadedBeforeSignal).toBe(0);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(serve.stderr).toContain('SIGTERM: stopping; finishing the task in hand');
    expect(serve.stderr).toMatch(/copied raw-a\/slow\.bin/);
    expect(serve.stderr).toContain('stopped');
    expect(exported.code, exported.stderr).toBe(0);
    expect(await sealedPaths(world)).toEqual([['/slow.bin']]);
    expect(downloads(world, '/slow.bin').map((r) => r.status)).toEqual([200]);
  });

  it('SIGKILL after a 202 loses nothing: after a restart the task completes', async () => {
    // Prepare: the first download hangs, so the task is in hand when the process dies
    world = await servedWorld();
    serve = await startServe(world);
    world.source.injectFault({ method: 'GET', url: /^\/repository\/raw-a\/killed\.bin$/, kind: 'delay', ms: 5_000, times: 1 });
    const { componentId } = world.source.putRawAsset('raw-a', '/killed.bin', content('killed', 4000), { lastModified: LONG_AGO });

    // Act
    const accepted = await deliver(serve, componentEvent('raw-a', componentId, 'killed.bin'), { deliveryId: 'delivery-k' });
    const downloadedBeforeKill = downloads(world, '/killed.bin').length;
    const killed = await stopServe(serve, 'SIGKILL');
    world.source.clearFaults();
    serve = await startServe(world);
    await until(async () => (await sealedPaths(world)).flat().includes('/killed.bin'), 'the task to complete after the restart');

    // Assess
    expect(accepted.status).toBe(202);
    expect(downloadedBeforeKill).toBe(0);
    expect(killed.signal).toBe('SIGKILL');
    expect(occurrences(serve.stderr, /scan finished: \d+ components, 0 new tasks/)).toBe(1);
    expect(await sealedPaths(world)).toEqual([['/killed.bin']]);
  });

  it('refuses to start without a webhook secret or with a bad serve section, naming the field (exit 2)', async () => {
    // Prepare: a serve section with a bad address and a secret written in the config
    world = await servedWorld();
    const badConfig = path.join(world.dir, 'bad-serve.yaml');
    const config = parse(await readFile(world.exportConfig, 'utf8')) as Record<string, unknown>;
    await writeFile(badConfig, stringify({ ...config, serve: { listen: 'nowhere', webhook: { secret: 'written-down-s3cret' } } }));
    const withSecret = { ...world.env, FERRY_WEBHOOK_SECRET: WEBHOOK_SECRET };

    // Act
    const noSecret = await runFerry(['serve', '--config', world.exportConfig, '--listen', '127.0.0.1:0'], world.env);
    const badListen = await runFerry(['serve', '--config', world.exportConfig, '--listen', 'nowhere'], withSecret);
    const badSection = await runFerry(['serve', '--config', badConfig], withSecret);

    // Assess
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain('environment variable FERRY_WEBHOOK_SECRET (serve.webhook.secretEnv) is not set');
    expect(noSecret.stderr).not.toContain('listening');
    expect(badListen.code).toBe(2);
    expect(badListen.stderr).toContain('--listen: expected host:port');
    expect(badSection.code).toBe(2);
    expect(badSection.stderr).toContain('serve.listen: expected host:port');
    expect(badSection.stderr).toContain('serve.webhook.secret: secrets are not accepted in the config');
    expect(badSection.stderr).not.toContain('written-down-s3cret');
  });
});
