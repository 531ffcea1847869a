/**
 * A running `ferry serve` child process for tests: started on a free port, its stderr kept,
 * and helpers to wait for what it says, post webhook deliveries and read its endpoints.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { signWebhookBody } from '../nexus-standin/index.ts';
import { spawnFerry, type World } from './world.ts';

export const WEBHOOK_SECRET = 'serve-test-s3cret';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServeProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` as the server reported it. */
  url: string;
  readonly stderr: string;
  exited: Promise<Exit>;
}

/** Polls `condition` every 20 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** How many times `pattern` occurs in `text`. */
export function occurrences(text: string, pattern: RegExp): number {
  return [...text.matchAll(new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`))].length;
}

/**
 * Starts `ferry serve` on the world's export config (listening on a free port) and resolves
 * once it listens and its first scan has finished.
 */
export async function startServe(world: World, args: string[] = [], env: NodeJS.ProcessEnv = { ...world.env, FERRY_WEBHOOK_SECRET: WEBHOOK_SECRET }): Promise<ServeProcess> {
  const child = spawnFerry(['serve', '--config', world.exportConfig, '--listen', '127.0.0.1:0', ...args], env);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout!.resume();
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let ended = false;
  void exited.then(() => (ended = true));
  await until(() => ended || /scan finished/.test(stderr), 'ferry serve to listen and finish its first scan');
  const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
  if (ended || url === undefined) throw new Error(`ferry serve did not start:\n${stderr}`);
  return {
    child,
    url,
    get stderr() {
      return stderr;
    },
    exited,
  };
}

/** Sends `signal` and waits for the process to end. */
export async function stopServe(serve: ServeProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
  serve.child.kill(signal);
  return serve.exited;
}

/** After a test: a serve still running is killed (a test that stopped it itself leaves nothing to do). */
export async function killIfRunning(serve: ServeProcess | undefined): Promise<void> {
  if (serve !== undefined && serve.child.exitCode === null && serve.child.signalCode === null) await stopServe(serve, 'SIGKILL');
}

/** A component event body as Nexus sends it (compact JSON, fields in Nexus's order). */
export function componentEvent(repositoryName: string, componentId: string, name: string, action = 'CREATED'): string {
  return JSON.stringify({
    timestamp: '2025-01-15T10:20:30.123+00:00',
    nodeId: '52905B51-085CCABB-CEBBEAAD-16795588-FC927D93',
    initiator: 'admin/127.0.0.1',
    repositoryName,
    action,
    component: { id: 'fa8cfc42', componentId, format: 'raw', name },
  });
}

/** POSTs a delivery to `/webhook`, signed with `secret` unless a `signature` is given. */
export async function deliver(
  serve: ServeProcess,
  body: string,
  options: { deliveryId: string; secret?: string; signature?: string | null },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=UTF-8',
    'x-nexus-webhook-id': 'rm:repository:component',
    'x-nexus-webhook-delivery': options.deliveryId,
  };
  const signature = options.signature === undefined ? signWebhookBody(options.secret ?? WEBHOOK_SECRET, body) : options.signature;
  if (signature !== null) headers['x-nexus-webhook-signature'] = signature;
  const response = await fetch(`${serve.url}/webhook`, { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A scrape of `/metrics`, parsed by a Prometheus text-format parser, by family name. */
export async function scrape(serve: ServeProcess): Promise<{ contentType: string; families: Map<string, PrometheusFamily> }> {
  const response = await fetch(`${serve.url}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  const families = parsePrometheusTextFormat(await response.text());
  return { contentType: response.headers.get('content-type') ?? '', families: new Map(families.map((f) => [f.name, f])) };
}

/** The value of one sample of a family (the one whose labels include `labels`), as a number. */
export function sample(families: Map<string, PrometheusFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return found?.value === undefined ? undefined : Number(found.value);
}
