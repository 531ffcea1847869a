/**
 * The components / assets REST API: paging by internal id with backend-specific tokens,
 * JSON in Nexus's field order (nulls present), lookup and delete by REST id.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { nexusDate, parseRestId, unscrambleId } from './format.ts';
import { jsonBody, sendEmpty, sendJson, sendJsonBody, sendText, sendValidationErrors } from './http.ts';
import type { Actor, Store, StoredAsset, StoredComponent } from './store.ts';

export interface ListingContext {
  store: Store;
  baseUrl: string;
  pageSize: number;
  /** See StandinOptions.listingLatencyMs. */
  latencyMs?: number;
}

export function renderAsset(ctx: ListingContext, asset: StoredAsset, repository = asset.repository): Record<string, unknown> {
  const { store } = ctx;
  const format = store.repositories.get(asset.repository)?.format ?? 'raw';
  return {
    downloadUrl: `${ctx.baseUrl}/repository/${repository}${asset.path}`,
    path: store.renderPath(asset.path),
    id: store.assetRestId(asset, repository),
    repository,
    format,
    checksum: Object.fromEntries((['sha1', 'sha512', 'sha256', 'md5'] as const).filter((k) => asset.checksumKeys.includes(k)).map((k) => [k, asset.checksum[k]])),
    contentType: asset.contentType,
    lastModified: nexusDate(asset.lastModified),
    lastDownloaded: asset.lastDownloaded === null ? null : nexusDate(asset.lastDownloaded),
    uploader: asset.uploader,
    uploaderIp: asset.uploaderIp,
    fileSize: asset.size,
    blobCreated: nexusDate(asset.blobCreated),
    blobStoreName: null,
    [format]: asset.attributes,
  };
}

export function renderComponent(
  ctx: ListingContext,
  component: StoredComponent,
  repository = component.repository,
): Record<string, unknown> {
  const assets = component.assetIds
    .map((id) => ctx.store.assets.get(id))
    .filter((asset): asset is StoredAsset => asset !== undefined)
    .map((asset) => renderAsset(ctx, asset, repository));
  return {
    id: ctx.store.componentRestId(component, repository),
    repository,
    format: component.format,
    group: component.group,
    name: component.name,
    version: component.version,
    assets,
  };
}

type Kind = 'component' | 'asset';

/** GET /v1/components or /v1/assets. */
export async function handleList(ctx: ListingContext, kind: Kind, query: URLSearchParams, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const { store } = ctx;
  const repository = query.get('repository');
  if (repository === null || repository === '') {
    sendValidationErrors(res, 422, ['must not be null'], 'PARAMETER repository');
    return;
  }
  if (!store.repositories.has(repository)) {
    sendText(res, 404, `Repository not found`);
    return;
  }
  const token = query.get('continuationToken');
  let afterId = 0;
  if (token !== null && token !== '') {
    const decoded = store.backend === 'sql' ? unscrambleId(token) : store.internalIdOf(kind, token);
    if (decoded === undefined) {
      if (store.backend === 'sql') sendValidationErrors(res, 400, [`Invalid continuation token: ${token}`]);
      else sendText(res, 406, `Continuation token ${token} does not match this query`);
      return;
    }
    afterId = decoded;
  }
  const members = new Set(store.contentRepositories(repository));
  const source: Iterable<StoredComponent | StoredAsset> = kind === 'component' ? store.components.values() : store.assets.values();
  const page: (StoredComponent | StoredAsset)[] = [];
  // Maps iterate in insertion order, which is internal-id order: creation order.
  for (const item of source) {
    if (item.internalId <= afterId || !members.has(item.repository)) continue;
    page.push(item);
    if (page.length === ctx.pageSize) break;
  }
  const last = page.at(-1);
  const continuationToken = page.length === ctx.pageSize && last !== undefined ? last.entityId : null;
  const items = page.map((item) =>
    kind === 'component'
      ? renderComponent(ctx, item as StoredComponent, repository)
      : renderAsset(ctx, item as StoredAsset, repository),
  );
  const body = jsonBody({ items, continuationToken });
  const wait = (ctx.latencyMs ?? 0) - (performance.now() - started);
  if (wait > 0) await sleep(Math.ceil(wait));
  sendJsonBody(res, 200, body);
}

/** Resolves a REST id to an item visible through the repository the id names. */
function resolve(ctx: ListingContext, kind: Kind, id: string): { item: StoredComponent | StoredAsset; repository: string } | undefined {
  const parsed = parseRestId(id);
  if (parsed === undefined || !ctx.store.repositories.has(parsed.repository)) return undefined;
  const internalId = ctx.store.internalIdOf(kind, parsed.entityId);
  if (internalId === undefined) return undefined;
  const item = kind === 'component' ? ctx.store.components.get(internalId) : ctx.store.assets.get(internalId);
  if (item === undefined || !ctx.store.contentRepositories(parsed.repository).includes(item.repository)) return undefined;
  return { item, repository: parsed.repository };
}

/** GET|DELETE /v1/components/{id} and /v1/assets/{id}. */
export function handleItem(
  ctx: ListingContext,
  kind: Kind,
  id: string,
  method: string,
  actor: Actor,
  res: ServerResponse,
): void {
  const found = resolve(ctx, kind, id);
  if (found === undefined) {
    sendText(res, 404, `${kind === 'component' ? 'Component' : 'Asset'} not found`);
    return;
  }
  if (method === 'GET') {
    sendJson(
      res,
      200,
      kind === 'component'
        ? renderComponent(ctx, found.item as StoredComponent, found.repository)
        : renderAsset(ctx, found.item as StoredAsset, found.repository),
    );
    return;
  }
  const repo = ctx.store.repositories.get(found.repository);
  if (repo?.type === 'group') {
    sendValidationErrors(res, 400, [`Deleting from repository ${found.repository} of type group is not supported`]);
    return;
  }
  if (kind === 'component') ctx.store.deleteComponent(found.item.internalId, actor);
  else ctx.store.deleteAsset(found.item.internalId, actor);
  sendEmpty(res, 204);
}
