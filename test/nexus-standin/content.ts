/**
 * The repository view, `/repository/R/<path>`: streamed downloads (with Range and
 * conditional GET, as Nexus serves them), raw PUT and DELETE.
 */
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { normalisePath } from './format.ts';
import { STANDIN_FORMATS, type FormatContext } from './formats/index.ts';
import { sendEmpty, sendErrorPage } from './http.ts';
import type { Actor, Store, StoredAsset } from './store.ts';
import { handleRepositoryWrite } from './upload.ts';

/** Nexus records lastDownloaded (and, on SQL, fires asset UPDATED) at most this often per asset. */
const DOWNLOAD_MARK_INTERVAL_MS = 12 * 60 * 60 * 1000;

function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'invalid' | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return undefined; // multi-range and other units: serve the whole entity
  const [, from = '', to = ''] = match;
  if (from === '' && to === '') return 'invalid';
  let start: number;
  let end: number;
  if (from === '') {
    start = Math.max(size - Number(to), 0);
    end = size - 1;
  } else {
    start = Number(from);
    end = to === '' ? size - 1 : Math.min(Number(to), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}

function notModified(req: IncomingMessage, asset: StoredAsset, etag: string): boolean {
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) return ifNoneMatch.split(',').some((tag) => tag.trim() === etag || tag.trim() === '*');
  const ifModifiedSince = req.headers['if-modified-since'];
  if (ifModifiedSince === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  return Number.isFinite(since) && Math.floor(asset.lastModified.getTime() / 1000) * 1000 <= since;
}

function markDownloaded(store: Store, asset: StoredAsset, actor: Actor): void {
  const now = store.now();
  if (asset.lastDownloaded !== null && now.getTime() - asset.lastDownloaded.getTime() < DOWNLOAD_MARK_INTERVAL_MS) return;
  asset.lastDownloaded = now;
  if (store.backend === 'sql') store.onEvent({ kind: 'asset', action: 'UPDATED', asset, actor });
}

async function handleGet(store: Store, repository: string, path: string, actor: Actor, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let asset: StoredAsset | undefined;
  for (const member of store.contentRepositories(repository)) {
    asset = store.findAsset(member, path);
    if (asset !== undefined) break;
  }
  if (asset === undefined || path.endsWith('/')) {
    sendErrorPage(res, 404, 'Not Found');
    return;
  }
  const etag = `"${asset.checksum.sha1}"`;
  const headers: Record<string, string | number> = {
    'Content-Type': asset.contentType,
    'Last-Modified': asset.lastModified.toUTCString(),
    ETag: etag,
    'Accept-Ranges': 'bytes',
  };
  if (notModified(req, asset, etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const range = req.method === 'GET' ? parseRange(req.headers.range, asset.size) : undefined;
  if (range === 'invalid') {
    sendEmpty(res, 416, { 'Content-Range': `bytes */${asset.size}` });
    return;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? asset.size - 1;
  const length = asset.size === 0 ? 0 : end - start + 1;
  if (range !== undefined) headers['Content-Range'] = `bytes ${start}-${end}/${asset.size}`;
  headers['Content-Length'] = length;
  if (req.method === 'HEAD' || length === 0) {
    res.writeHead(range === undefined ? 200 : 206, headers);
    res.end();
    if (req.method === 'GET') markDownloaded(store, asset, actor);
    return;
  }
  // Open before answering: a concurrent replace unlinks the old blob, an open fd keeps it readable.
  const stream = createReadStream(asset.blobFile, { start, end });
  try {
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
  } catch {
    sendErrorPage(res, 500, 'Blob missing');
    return;
  }
  res.writeHead(range === undefined ? 200 : 206, headers);
  markDownloaded(store, asset, actor);
  try {
    await pipeline(stream, res);
  } catch {
    // client went away or a fault cut the socket
  }
}

/** Handles /repository/<repo>/<path>; `rest` is the still-encoded part after '/repository/'. */
export async function handleRepositoryView(
  ctx: FormatContext,
  rest: string,
  actor: Actor,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const slash = rest.indexOf('/');
  const repository = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
  const rawPath = slash < 0 ? '/' : decodeURIComponent(rest.slice(slash));
  const { store } = ctx;
  const repo = store.repositories.get(repository);
  if (repo === undefined) {
    sendErrorPage(res, 404, 'Repository not found');
    return;
  }
  switch (req.method) {
    case 'GET':
    case 'HEAD':
      if (!repo.online) {
        sendErrorPage(res, 503, 'Repository offline');
        return;
      }
    {
      const generated = await STANDIN_FORMATS.get(repo.format)?.read?.(ctx, repo, rawPath);
      if (generated !== undefined) {
        res.writeHead(generated.status, { 'Content-Type': generated.contentType, 'Content-Length': generated.body.length });
        res.end(req.method === 'HEAD' ? undefined : generated.body);
        return;
      }
      await handleGet(store, repository, rawPath.endsWith('/') ? rawPath : normalisePath(rawPath), actor, req, res);
      return;
    }
    case 'PUT':
    case 'POST':
      await handleRepositoryWrite(ctx, repo, rawPath, actor, req, res);
      return;
    case 'DELETE': {
      if (repo.type !== 'hosted') {
        sendErrorPage(res, 405, 'Method Not Allowed');
        return;
      }
      const answered = await STANDIN_FORMATS.get(repo.format)?.remove?.(ctx, repo, rawPath);
      if (answered !== undefined) {
        res.writeHead(answered.status, { 'Content-Type': answered.contentType, 'Content-Length': answered.body.length });
        res.end(answered.body);
        return;
      }
      const asset = store.findAsset(repository, rawPath);
      if (asset === undefined) {
        sendErrorPage(res, 404, 'Not Found');
        return;
      }
      store.deleteAsset(asset.internalId, actor);
      sendEmpty(res, 204);
      return;
    }
    default:
      sendErrorPage(res, 405, 'Method Not Allowed');
  }
}
