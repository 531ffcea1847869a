/**
 * The stand-in's "database": repositories, components and assets with global id counters
 * (one per table, like Nexus's SQL store), and blobs as files. Every mutation emits an
 * event so webhooks see exactly what an upload, a seed or a delete changed.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  contentTypeFor,
  normalisePath,
  orientEntityId,
  rawCoordinates,
  restId,
  scrambleId,
} from './format.ts';
import type { StandinRepository } from './types.ts';

export type Backend = 'sql' | 'orient';

export interface Checksum {
  sha1: string;
  sha512: string;
  sha256: string;
  md5: string;
}

/** Content already written to a file under the store's tmp dir, with its digests. */
export interface StagedBlob {
  file: string;
  size: number;
  checksum: Checksum;
}

export interface StoredAsset {
  internalId: number;
  entityId: string;
  repository: string;
  /** Always normalised with a leading '/'; rendered per backend. */
  path: string;
  blobFile: string;
  size: number;
  checksum: Checksum;
  contentType: string;
  lastModified: Date;
  blobCreated: Date;
  lastDownloaded: Date | null;
  uploader: string | null;
  uploaderIp: string | null;
  /** Null for component-less assets (docker blobs, generated metadata such as maven-metadata.xml). */
  componentInternalId: number | null;
  /** The asset's format block as the REST API shows it (`"maven2": {…}`). */
  attributes: Record<string, unknown>;
  /** The checksums the REST API shows (helm, npm and pypi lack sha256); all are kept. */
  checksumKeys: readonly (keyof Checksum)[];
}

/** Component coordinates as the SQL store keeps them: "" where a format has none. */
export interface Coordinates {
  group: string;
  name: string;
  version: string;
}

/** One asset a format's upload, PUT or seed writes. */
export interface AssetWrite {
  /** Normalised, with a leading '/'. */
  path: string;
  blob: StagedBlob;
  /** Null: a component-less asset. */
  component: Coordinates | null;
  attributes?: Record<string, unknown> | undefined;
  contentType?: string | undefined;
  /** The checksums the REST API shows for it; default all four (raw, maven2). */
  checksumKeys?: readonly (keyof Checksum)[] | undefined;
  /** Maven metadata and checksum files: Nexus lets them be rewritten on an `allow_once` repository (not on `deny`). */
  redeployable?: boolean | undefined;
}

export interface StoredComponent {
  internalId: number;
  entityId: string;
  repository: string;
  format: string;
  group: string;
  name: string;
  version: string | null;
  assetIds: number[];
}

export interface Actor {
  user: string;
  ip: string;
}

export type StoreEvent =
  | { kind: 'component'; action: 'CREATED' | 'UPDATED' | 'DELETED'; component: StoredComponent; actor: Actor }
  | { kind: 'asset'; action: 'CREATED' | 'UPDATED' | 'DELETED'; asset: StoredAsset; actor: Actor };

export interface RepositoryState extends StandinRepository {
  writePolicy: 'allow' | 'allow_once' | 'deny';
  online: boolean;
  memberNames: string[];
}

export const SEED_ACTOR: Actor = { user: 'admin', ip: '127.0.0.1' };

export class Store {
  readonly backend: Backend;
  readonly repositories = new Map<string, RepositoryState>();
  readonly components = new Map<number, StoredComponent>();
  readonly assets = new Map<number, StoredAsset>();
  readonly tmpDir: string;
  readonly #blobDir: string;
  readonly #clock: () => Date;
  readonly #byPath = new Map<string, number>();
  readonly #byCoordinates = new Map<string, number>();
  readonly #byEntityId = new Map<string, { kind: 'component' | 'asset'; internalId: number }>();
  readonly #uploads = new Map<string, number>();
  #nextComponentId = 1;
  #nextAssetId = 1;
  onEvent: (event: StoreEvent) => void = () => {};

  constructor(options: { backend: Backend; dataDir: string; clock: () => Date; repositories: StandinRepository[] }) {
    this.backend = options.backend;
    this.#clock = options.clock;
    this.tmpDir = join(options.dataDir, 'tmp');
    this.#blobDir = join(options.dataDir, 'blobs');
    mkdirSync(this.tmpDir, { recursive: true });
    mkdirSync(this.#blobDir, { recursive: true });
    for (const repo of options.repositories) {
      if (this.repositories.has(repo.name)) throw new Error(`duplicate repository ${repo.name}`);
      this.repositories.set(repo.name, {
        ...repo,
        writePolicy: repo.writePolicy ?? 'allow',
        online: repo.online ?? true,
        memberNames: repo.memberNames ?? [],
      });
    }
    for (const repo of this.repositories.values()) {
      for (const member of repo.memberNames) {
        if (!this.repositories.has(member)) throw new Error(`group ${repo.name}: unknown member ${member}`);
      }
    }
  }

  now(): Date {
    return this.#clock();
  }

  /** The repositories whose content a repository shows: itself, or a group's members (recursively). */
  contentRepositories(name: string): string[] {
    const repo = this.repositories.get(name);
    if (repo === undefined) return [];
    if (repo.type !== 'group') return [name];
    const seen = new Set<string>();
    const visit = (member: string): void => {
      const state = this.repositories.get(member);
      if (state === undefined || seen.has(member)) return;
      if (state.type === 'group') state.memberNames.forEach(visit);
      else seen.add(member);
    };
    repo.memberNames.forEach(visit);
    return [...seen];
  }

  componentEntityId(internalId: number): string {
    return this.backend === 'sql' ? scrambleId(internalId) : orientEntityId('component', internalId);
  }

  assetEntityId(internalId: number): string {
    return this.backend === 'sql' ? scrambleId(internalId) : orientEntityId('asset', internalId);
  }

  /** Resolves an OrientDB entity id (or SQL hex id) to an internal id of the given kind. */
  internalIdOf(kind: 'component' | 'asset', entityId: string): number | undefined {
    const found = this.#byEntityId.get(`${kind}:${entityId}`);
    return found?.internalId;
  }

  findAsset(repository: string, path: string): StoredAsset | undefined {
    const id = this.#byPath.get(`${repository}\0${normalisePath(path)}`);
    return id === undefined ? undefined : this.assets.get(id);
  }

  /** Undefined when the write is allowed, else the repository-level reason (for error bodies). */
  writeRefusal(repository: string, path: string): 'deny' | 'allow_once' | undefined {
    const repo = this.repositories.get(repository);
    if (repo?.writePolicy === 'deny') return 'deny';
    if (repo?.writePolicy === 'allow_once' && this.findAsset(repository, path) !== undefined) return 'allow_once';
    return undefined;
  }

  uploadCount(repository: string, path: string): number {
    return this.#uploads.get(`${repository}\0${normalisePath(path)}`) ?? 0;
  }

  countUpload(repository: string, path: string): void {
    const key = `${repository}\0${normalisePath(path)}`;
    this.#uploads.set(key, (this.#uploads.get(key) ?? 0) + 1);
  }

  /**
   * Why these writes cannot all be made (a write policy), or undefined when they can: a
   * format checks this before it writes anything, so an upload lands whole or not at all.
   */
  writesRefusal(repository: string, writes: readonly AssetWrite[]): { policy: 'deny' | 'allow_once'; path: string } | undefined {
    for (const write of writes) {
      const policy = this.writeRefusal(repository, write.path);
      if (policy === 'allow_once' && write.redeployable === true) continue;
      if (policy !== undefined) return { policy, path: write.path };
    }
    return undefined;
  }

  /**
   * Creates or replaces one asset from staged content (the file is moved into the blob
   * store). A new path joins its component (created with the next id when new); an existing
   * path keeps its ids, blobCreated and listing position and gets new content and
   * lastModified, as Nexus does.
   */
  writeAsset(repository: string, write: AssetWrite, actor: Actor, lastModified?: Date): StoredAsset {
    const path = normalisePath(write.path);
    const blobFile = join(this.#blobDir, randomUUID());
    renameSync(write.blob.file, blobFile);
    const when = lastModified ?? this.now();
    const existing = this.findAsset(repository, path);
    if (existing !== undefined) return this.#replace(existing, write, blobFile, when, actor);
    const component = write.component === null ? undefined : this.#componentFor(repository, write.component, actor);
    const assetId = this.#nextAssetId++;
    const asset: StoredAsset = {
      internalId: assetId,
      entityId: this.assetEntityId(assetId),
      repository,
      path,
      blobFile,
      size: write.blob.size,
      checksum: write.blob.checksum,
      contentType: write.contentType ?? contentTypeFor(path),
      lastModified: when,
      blobCreated: when,
      lastDownloaded: null,
      uploader: actor.user,
      uploaderIp: actor.ip,
      componentInternalId: component?.internalId ?? null,
      attributes: write.attributes ?? {},
      checksumKeys: write.checksumKeys ?? ['sha1', 'sha512', 'sha256', 'md5'],
    };
    component?.assetIds.push(assetId);
    this.assets.set(assetId, asset);
    this.#byPath.set(`${repository}\0${path}`, assetId);
    this.#byEntityId.set(`asset:${asset.entityId}`, { kind: 'asset', internalId: assetId });
    this.onEvent({ kind: 'asset', action: 'CREATED', asset, actor });
    return asset;
  }

  #replace(existing: StoredAsset, write: AssetWrite, blobFile: string, when: Date, actor: Actor): StoredAsset {
    const oldFile = existing.blobFile;
    Object.assign(existing, {
      blobFile,
      size: write.blob.size,
      checksum: write.blob.checksum,
      ...(write.contentType !== undefined ? { contentType: write.contentType } : {}),
      ...(write.attributes !== undefined ? { attributes: write.attributes } : {}),
      lastModified: when,
      uploader: actor.user,
      uploaderIp: actor.ip,
    });
    try {
      unlinkSync(oldFile);
    } catch {
      // already gone: nothing to reclaim
    }
    const component = existing.componentInternalId === null ? undefined : this.components.get(existing.componentInternalId);
    if (component !== undefined) this.onEvent({ kind: 'component', action: 'UPDATED', component, actor });
    this.onEvent({ kind: 'asset', action: 'UPDATED', asset: existing, actor });
    return existing;
  }

  /** The component with these coordinates in the repository, created (with the next id) when new. */
  #componentFor(repository: string, coordinates: Coordinates, actor: Actor): StoredComponent {
    const key = `${repository}\0${coordinates.group}\0${coordinates.name}\0${coordinates.version}`;
    const known = this.#byCoordinates.get(key);
    const found = known === undefined ? undefined : this.components.get(known);
    if (found !== undefined) return found;
    const componentId = this.#nextComponentId++;
    const component: StoredComponent = {
      internalId: componentId,
      entityId: this.componentEntityId(componentId),
      repository,
      format: this.repositories.get(repository)?.format ?? 'raw',
      group: coordinates.group,
      name: coordinates.name,
      // OrientDB has null where the SQL store has "".
      version: coordinates.version === '' && this.backend === 'orient' ? null : coordinates.version,
      assetIds: [],
    };
    this.components.set(componentId, component);
    this.#byCoordinates.set(key, componentId);
    this.#byEntityId.set(`component:${component.entityId}`, { kind: 'component', internalId: componentId });
    this.onEvent({ kind: 'component', action: 'CREATED', component, actor });
    return component;
  }

  /** Creates or replaces a raw asset (component: directory and path, as Nexus derives them). */
  writeRaw(repository: string, rawPath: string, blob: StagedBlob, actor: Actor, lastModified?: Date): StoredAsset {
    const path = normalisePath(rawPath);
    const { group, name } = rawCoordinates(path);
    return this.writeAsset(repository, { path, blob, component: { group, name, version: '' }, attributes: { contentDisposition: 'ATTACHMENT' } }, actor, lastModified);
  }

  /** Hashes a buffer into a staged blob under the tmp dir (seeding, generated content). */
  stageBuffer(content: Buffer): StagedBlob {
    const file = join(this.tmpDir, randomUUID());
    writeFileSync(file, content);
    const digest = (algorithm: string): string => createHash(algorithm).update(content).digest('hex');
    return { file, size: content.length, checksum: { sha1: digest('sha1'), sha512: digest('sha512'), sha256: digest('sha256'), md5: digest('md5') } };
  }

  /** Synchronous seeding path: hashes and writes a buffer, then writes it like an upload. */
  seedRaw(repository: string, path: string, content: Buffer, lastModified?: Date): StoredAsset {
    return this.writeRaw(repository, path, this.stageBuffer(content), SEED_ACTOR, lastModified);
  }

  /**
   * Records a docker tag as Nexus lists it: a component per tag whose one asset is the
   * manifest at `/v2/<name>/manifests/<tag>` (its sha256 is the manifest digest). The
   * registry itself is served elsewhere (a real registry in tests).
   */
  seedDockerTag(repository: string, name: string, tag: string, manifest: Buffer, mediaType: string, lastModified?: Date): StoredAsset {
    const write: AssetWrite = {
      path: `/v2/${name}/manifests/${tag}`,
      blob: this.stageBuffer(manifest),
      component: { group: '', name, version: tag },
      contentType: mediaType,
      attributes: { asset_kind: 'MANIFEST' },
    };
    return this.writeAsset(repository, write, SEED_ACTOR, lastModified);
  }

  deleteComponent(internalId: number, actor: Actor): boolean {
    const component = this.components.get(internalId);
    if (component === undefined) return false;
    for (const assetId of component.assetIds) this.deleteAsset(assetId, actor, false);
    this.#dropComponent(component, actor);
    return true;
  }

  #dropComponent(component: StoredComponent, actor: Actor): void {
    this.components.delete(component.internalId);
    this.#byCoordinates.delete(`${component.repository}\0${component.group}\0${component.name}\0${component.version ?? ''}`);
    this.onEvent({ kind: 'component', action: 'DELETED', component, actor });
  }

  /** Deleting a component's last asset deletes the component too, as Nexus does. */
  deleteAsset(internalId: number, actor: Actor, cascade = true): boolean {
    const asset = this.assets.get(internalId);
    if (asset === undefined) return false;
    this.assets.delete(internalId);
    this.#byPath.delete(`${asset.repository}\0${asset.path}`);
    rmSync(asset.blobFile, { force: true });
    this.onEvent({ kind: 'asset', action: 'DELETED', asset, actor });
    const component = asset.componentInternalId === null ? undefined : this.components.get(asset.componentInternalId);
    if (cascade && component !== undefined) {
      component.assetIds = component.assetIds.filter((id) => id !== internalId);
      if (component.assetIds.length === 0) this.#dropComponent(component, actor);
    }
    return true;
  }

  /** REST ids as seen through `repository` (a group shows its members' items under its own name). */
  componentRestId(component: StoredComponent, repository = component.repository): string {
    return restId(repository, component.entityId);
  }

  assetRestId(asset: StoredAsset, repository = asset.repository): string {
    return restId(repository, asset.entityId);
  }

  /** Path as this backend renders it: SQL with a leading '/', OrientDB without. */
  renderPath(path: string): string {
    return this.backend === 'sql' ? path : path.slice(1);
  }
}
