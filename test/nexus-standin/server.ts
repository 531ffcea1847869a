/**
 * The stand-in's HTTP server: request log, fault injection, basic auth, then routing to
 * the REST API or the repository view. One instance is one Nexus node.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { handleRepositoryView } from './content.ts';
import { Faults, interceptBody } from './faults.ts';
import { nexusDate, normalisePath } from './format.ts';
import { sendEmpty, sendJson, sendText, sendValidationErrors } from './http.ts';
import { handleItem, handleList, type ListingContext } from './listing.ts';
import { STANDIN_FORMATS, type FormatContext } from './formats/index.ts';
import { renderRepository, renderRepositorySettings } from './repositories.ts';
import { Store, type Actor } from './store.ts';
import type { NexusStandin, RequestLogEntry, StandinFault, StandinOptions } from './types.ts';
import { seedPut, seedUpload } from './seed.ts';
import { handleComponentUpload } from './upload.ts';
import { Webhooks } from './webhooks.ts';

const REALM = 'BASIC realm="Sonatype Nexus Repository Manager"';
const REST = '/service/rest';

function clientIp(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '127.0.0.1';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** The authenticated user, 'anonymous' when no users are configured, undefined when refused. */
function authenticate(options: StandinOptions, req: IncomingMessage): string | undefined {
  if (options.users === undefined) return 'anonymous';
  const header = req.headers.authorization ?? '';
  const match = /^basic\s+(\S+)$/i.exec(header);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  return options.users.some((user) => user.username === username && user.password === password) ? username : undefined;
}

export async function startNexusStandin(options: StandinOptions): Promise<NexusStandin> {
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'nexus-standin-'));
  const clock = options.clock ?? (() => new Date());
  const store = new Store({ backend: options.backend ?? 'sql', dataDir, clock, repositories: options.repositories });
  const webhooks = new Webhooks(store);
  store.onEvent = (event) => webhooks.emit(event);
  const faults = new Faults();
  const requests: RequestLogEntry[] = [];
  const listing: ListingContext = { store, baseUrl: '', pageSize: options.pageSize ?? 10, latencyMs: options.listingLatencyMs ?? 0 };
  // The same object: its baseUrl is set once the server listens.
  const formats: FormatContext = listing;
  if (!Number.isInteger(listing.pageSize) || listing.pageSize < 1) throw new Error(`pageSize must be a positive integer`);

  async function route(req: IncomingMessage, res: ServerResponse, actor: Actor): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://standin.invalid');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path.startsWith('/repository/')) {
      await handleRepositoryView(formats, path.slice('/repository/'.length), actor, req, res);
      return;
    }
    if (!path.startsWith(`${REST}/`)) {
      sendText(res, 404, 'Not Found');
      return;
    }
    const api = path.slice(REST.length);
    const read = method === 'GET' || method === 'HEAD';
    if (api === '/v1/status' || api === '/v1/status/writable') {
      if (read) sendEmpty(res, 200);
      else sendEmpty(res, 405);
      return;
    }
    if (api === '/v1/repositories' && read) {
      sendJson(res, 200, [...store.repositories.values()].map((repo) => renderRepository(listing.baseUrl, repo)));
      return;
    }
    if (api === '/v1/repositorySettings' && read) {
      sendJson(res, 200, [...store.repositories.values()].map((repo) => renderRepositorySettings(listing.baseUrl, repo)));
      return;
    }
    if (api === '/v1/formats/upload-specs' && read) {
      sendJson(res, 200, [...STANDIN_FORMATS.values()].filter((f) => f.upload !== undefined).map((f) => f.uploadSpec));
      return;
    }
    const spec = /^\/v1\/formats\/([^/]+)\/upload-specs$/.exec(api);
    if (spec !== null && read) {
      const format = STANDIN_FORMATS.get(spec[1] ?? '');
      if (format?.upload === undefined) sendText(res, 404, 'Not Found');
      else sendJson(res, 200, format.uploadSpec);
      return;
    }
    if (api === '/v1/components' || api === '/v1/assets') {
      const kind = api === '/v1/components' ? 'component' : 'asset';
      if (read) await handleList(listing, kind, url.searchParams, res);
      else if (method === 'POST' && kind === 'component') {
        await handleComponentUpload(formats, url.searchParams.get('repository'), actor, req, res);
      } else sendEmpty(res, 405);
      return;
    }
    const item = /^\/v1\/(components|assets)\/([^/]+)$/.exec(api);
    if (item !== null) {
      const kind = item[1] === 'components' ? 'component' : 'asset';
      if (read || method === 'DELETE') handleItem(listing, kind, decodeURIComponent(item[2] ?? ''), method === 'DELETE' ? 'DELETE' : 'GET', actor, res);
      else sendEmpty(res, 405);
      return;
    }
    sendText(res, 404, 'Not Found');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const entry: RequestLogEntry = { method, url, status: 0 };
    let logged = false;
    let cut = false;
    const log = (): void => {
      if (logged) return;
      logged = true;
      entry.status = cut ? 0 : res.headersSent ? res.statusCode : 0;
      requests.push(entry);
    };
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    (res as unknown as { end: (...args: unknown[]) => ServerResponse }).end = (...args: unknown[]) => {
      const result = end(...args);
      if (!cut) log();
      return result;
    };
    res.on('close', log);

    const fault: StandinFault | undefined = faults.take(method, url);
    if (fault !== undefined) {
      switch (fault.kind) {
        case 'reset':
          cut = true;
          log();
          req.socket.destroy();
          return;
        case 'status': {
          const text = `${fault.status} ${STATUS_CODES[fault.status] ?? 'Error'}`;
          req.resume();
          sendText(res, fault.status, text);
          return;
        }
        case 'retry-after': {
          const status = fault.status ?? 429;
          const body = Buffer.from(`${status} ${STATUS_CODES[status] ?? 'Error'}`);
          req.resume();
          res.writeHead(status, { 'Retry-After': fault.retryAfter, 'Content-Type': 'text/plain;charset=UTF-8', 'Content-Length': body.length });
          res.end(body);
          return;
        }
        case 'delay':
          await sleep(fault.ms);
          break;
        case 'truncate':
        case 'corrupt':
          interceptBody(res, fault, () => {
            cut = fault.kind === 'truncate';
            log();
          });
          break;
      }
    }

    const protectedPath = url.startsWith(`${REST}/`) || url === REST || url.startsWith('/repository/');
    const user = protectedPath ? authenticate(options, req) : 'anonymous';
    if (user === undefined) {
      req.resume();
      sendEmpty(res, 401, { 'WWW-Authenticate': REALM });
      return;
    }
    try {
      await route(req, res, { user, ip: clientIp(req) });
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof URIError) sendValidationErrors(res, 400, ['Malformed URL']);
      else sendText(res, 500, `Internal error: ${(error as Error).message}`);
    }
  }

  const server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => void handle(req, res))
    : createServer((req, res) => {
        void handle(req, res);
      });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('stand-in: no TCP address');
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${address.port}`;
  listing.baseUrl = url;

  return {
    url,
    requests,
    get webhookFailures() {
      return webhooks.failures;
    },
    get webhookDeliveries() {
      return webhooks.deliveries;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await webhooks.idle();
      if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
    putRawAsset(repository, path, content, seedOptions) {
      const repo = store.repositories.get(repository);
      if (repo === undefined) throw new Error(`putRawAsset: unknown repository ${repository}`);
      if (repo.type === 'group') throw new Error(`putRawAsset: ${repository} is a group repository`);
      const asset = store.seedRaw(repository, path, typeof content === 'string' ? Buffer.from(content, 'utf8') : content, seedOptions?.lastModified);
      const component = store.components.get(asset.componentInternalId ?? -1);
      if (component === undefined) throw new Error('putRawAsset: component vanished');
      return { componentId: store.componentRestId(component), assetId: store.assetRestId(asset) };
    },
    setWritePolicy(repository, policy) {
      const repo = store.repositories.get(repository);
      if (repo === undefined || repo.type !== 'hosted') throw new Error(`setWritePolicy: ${repository} is not a hosted repository`);
      repo.writePolicy = policy;
    },
    putDockerTag(repository, name, tag, manifest, mediaType, seedOptions) {
      const repo = store.repositories.get(repository);
      if (repo === undefined || repo.format !== 'docker') throw new Error(`putDockerTag: ${repository} is not a docker repository`);
      const asset = store.seedDockerTag(repository, name, tag, manifest, mediaType, seedOptions?.lastModified);
      const component = store.components.get(asset.componentInternalId ?? -1)!;
      return { componentId: store.componentRestId(component), assetId: store.assetRestId(asset) };
    },
    seedUpload: (repository, form, seedOptions) => seedUpload(formats, repository, form, seedOptions?.lastModified),
    seedPut: (repository, path, content, seedOptions) => seedPut(formats, repository, path, content, seedOptions?.lastModified),
    getAsset(repository, path) {
      const asset = store.findAsset(repository, path);
      if (asset === undefined) return undefined;
      return { content: readFileSync(asset.blobFile), checksum: { ...asset.checksum }, lastModified: nexusDate(asset.lastModified) };
    },
    assetPaths(repository) {
      const paths: string[] = [];
      for (const asset of store.assets.values()) if (asset.repository === repository) paths.push(asset.path);
      return paths;
    },
    uploadCount(repository, path) {
      return store.uploadCount(repository, normalisePath(path));
    },
    injectFault(fault) {
      faults.inject(fault);
    },
    clearFaults() {
      faults.clear();
    },
    addWebhook(hook) {
      webhooks.add(hook);
    },
    webhooksIdle() {
      return webhooks.idle();
    },
  };
}
