import { createCipheriv, createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BlobSource } from '../shared/core/ports/index.ts';
import { ChecksumMismatchError, SizeMismatchError, sha256Of, type Digest } from '../shared/digest.ts';
import {
  BlobDigestError,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  ImageManifestError,
  OCI_INDEX,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
  RegistryAuthError,
  RegistryClient,
  RegistryHttpError,
  parseImageIndex,
  parseImageManifest,
  platformOf,
  type RegistryClientOptions,
} from '../shared/adapters/registry/index.ts';
import { bufferSource, makeImage, makeIndex, makeLayer, pushImage, pushIndex, type TestImage } from './support/images.ts';
import { DEFAULT_USERS, startRegistry, type TestRegistry } from './support/registry.ts';
import { startRecordingProxy, type SeenRequest } from './support/proxy.ts';
import { skopeoInspectRaw } from './support/skopeo.ts';
import { OciDocumentError } from '../shared/oci/errors.ts';

// ───────────────────────────── helpers ─────────────────────────────

const USER = DEFAULT_USERS[0]!;
const clients: RegistryClient[] = [];
const servers: Server[] = [];
const proxies: { close(): Promise<void> }[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => {
    s.closeAllConnections();
    s.close(() => resolve());
  })));
});

function client(options: RegistryClientOptions): RegistryClient {
  const c = new RegistryClient({ retry: { baseDelayMs: 1, maxDelayMs: 5 }, ...options });
  clients.push(c);
  return c;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A pass-through proxy in front of a real registry that records each request it forwards (closed after each test). */
async function recordingProxy(target: string): Promise<{ url: string; seen: SeenRequest[] }> {
  const proxy = await startRecordingProxy(target);
  proxies.push(proxy);
  return proxy;
}

/** Deterministic pseudo-random bytes (AES-CTR keystream), generated as they are read. */
function generatedSource(size: number, seed: string): BlobSource {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  return {
    size,
    open: async () =>
      Readable.from(
        (function* generate() {
          const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
          const zeros = Buffer.alloc(256 * 1024);
          for (let left = size; left > 0; left -= zeros.length) yield cipher.update(zeros.subarray(0, Math.min(left, zeros.length)));
        })(),
      ),
  };
}

async function digestOf(source: BlobSource): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of await source.open()) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function threeLayerImage(format: 'oci' | 'docker', tag: string): Promise<TestImage> {
  return makeImage({
    format,
    layers: [
      await makeLayer({ 'etc/os-release': `ID=ferry-${tag}\n` }),
      await makeLayer({ 'usr/bin/tool': Buffer.alloc(4096, tag), 'usr/share/doc/README': 'read me' }),
      await makeLayer({ [`app/${tag}.txt`]: `payload of ${tag}` }),
    ],
    labels: { 'org.opencontainers.image.title': tag },
  });
}

/** Every message and stack along the cause chain, for "no secret leaks" checks. */
function everythingSaid(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 10; depth++) {
    parts.push(String(e), e instanceof Error ? (e.stack ?? '') : '', JSON.stringify(e) ?? '');
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join('\n');
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

// ───────────────────────────── open registry ─────────────────────────────

describe('RegistryClient against docker-registry 2.8 (no auth)', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.close();
  });

  it('pings /v2/', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url });
    // Act
    const result = c.ping();
    // Assess
    await expect(result).resolves.toBeUndefined();
  });

  it('pushes a 3-layer OCI image and pulls the manifest by tag and by digest as identical bytes, as skopeo sees them', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url });
    const image = await threeLayerImage('oci', 'oci1');
    // Act
    const pushed = await pushImage(c, 'team/app', 'oci1', image);
    const byTag = await c.getManifest('team/app', 'oci1');
    const byDigest = await c.getManifest('team/app', pushed);
    const head = await c.headManifest('team/app', 'oci1');
    const raw = await skopeoInspectRaw(`${registry.host}/team/app:oci1`);
    // Assess
    expect(pushed).toBe(image.manifest.digest);
    expect(byTag.bytes.equals(image.manifest.bytes)).toBe(true);
    expect(byDigest.bytes.equals(image.manifest.bytes)).toBe(true);
    expect(byTag.digest).toBe(image.manifest.digest);
    expect(byDigest.digest).toBe(image.manifest.digest);
    expect(byTag.mediaType).toBe(OCI_MANIFEST);
    expect(head).toEqual({ digest: image.manifest.digest, mediaType: OCI_MANIFEST, size: image.manifest.bytes.length });
    expect(raw.equals(image.manifest.bytes)).toBe(true);
    const parsed = parseImageManifest(byTag.bytes, byTag.mediaType, 'team/app:oci1');
    expect(parsed.layers.map((l) => l.digest)).toEqual(image.layers.map((l) => l.digest));
    expect(parsed.layers.every((l) => l.mediaType === OCI_LAYER_GZIP)).toBe(true);
    expect(parsed.config.digest).toBe(image.config.digest);
  });

  it('pushes a Docker schema-2 image and pulls it back byte for byte', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url });
    const image = await threeLayerImage('docker', 'docker1');
    // Act
    const pushed = await pushImage(c, 'team/app', 'docker1', image);
    const byTag = await c.getManifest('team/app', 'docker1');
    const byDigest = await c.getManifest('team/app', pushed);
    const raw = await skopeoInspectRaw(`${registry.host}/team/app:docker1`);
    // Assess
    expect(byTag).toEqual({ mediaType: DOCKER_MANIFEST, digest: image.manifest.digest, bytes: image.manifest.bytes });
    expect(byDigest.bytes.equals(image.manifest.bytes)).toBe(true);
    expect(raw.equals(image.manifest.bytes)).toBe(true);
  });

  it('pushes a 2-platform OCI index and a Docker manifest list and fetches them and their children', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url });
    const shared = await makeLayer({ 'etc/motd': 'multi-arch\n' });
    const amd64 = makeImage({ layers: [shared, await makeLayer({ 'bin/x': 'amd64' })], platform: { os: 'linux', architecture: 'amd64' } });
    const arm64 = makeImage({ layers: [shared, await makeLayer({ 'bin/x': 'arm64' })], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    const index = makeIndex([amd64, arm64], 'oci');
    const dockerAmd64 = makeImage({ format: 'docker', layers: [shared], platform: { os: 'linux', architecture: 'amd64' } });
    const dockerArm = makeImage({ format: 'docker', layers: [shared], platform: { os: 'linux', architecture: 'arm', variant: 'v7' } });
    const list = makeIndex([dockerAmd64, dockerArm], 'docker');
    // Act
    const indexDigest = await pushIndex(c, 'team/multi', 'latest', index);
    const listDigest = await pushIndex(c, 'team/multi', 'list', list);
    const fetched = await c.getManifest('team/multi', 'latest');
    const fetchedList = await c.getManifest('team/multi', 'list');
    const parsed = parseImageIndex(fetched.bytes, fetched.mediaType, 'team/multi:latest');
    const child = await c.getManifest('team/multi', parsed.manifests[1]!.digest);
    const raw = await skopeoInspectRaw(`${registry.host}/team/multi:latest`);
    // Assess
    expect(indexDigest).toBe(index.manifest.digest);
    expect(fetched).toEqual({ mediaType: OCI_INDEX, digest: index.manifest.digest, bytes: index.manifest.bytes });
    expect(parsed.manifests.map(platformOf)).toEqual(['linux/amd64', 'linux/arm64/v8']);
    expect(child.bytes.equals(arm64.manifest.bytes)).toBe(true);
    expect(raw.equals(index.manifest.bytes)).toBe(true);
    expect(listDigest).toBe(list.manifest.digest);
    expect(fetchedList.mediaType).toBe(DOCKER_MANIFEST_LIST);
    expect(parseImageIndex(fetchedList.bytes, fetchedList.mediaType, 'list').manifests.map(platformOf)).toEqual(['linux/amd64', 'linux/arm/v7']);
  });

  it('streams a blob to the consumer as its exact bytes and refuses a wrong expected size', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url });
    const layer = await makeLayer({ 'data.bin': Buffer.alloc(100_000, 7) });
    await c.uploadBlob('team/blobs', layer.digest, bufferSource(layer.bytes));
    // Act
    const received = await c.getBlob('team/blobs', layer.digest, collect, layer.size);
    const wrongSize = await caught(c.getBlob('team/blobs', layer.digest, collect, layer.size + 1));
    // Assess
    expect(received.equals(layer.bytes)).toBe(true);
    expect(wrongSize).toBeInstanceOf(BlobDigestError);
    expect((wrongSize as BlobDigestError).cause).toBeInstanceOf(SizeMismatchError);
  });

  it('uploads a ~20 MiB blob in 5 MiB PATCH chunks with Content-Range, then a closing PUT with the digest', async () => {
    // Prepare
    const proxy = await recordingProxy(registry.url);
    const c = client({ baseUrl: proxy.url });
    const size = 20 * 1024 * 1024 + 12_345;
    const source = generatedSource(size, 'chunked');
    const digest = await digestOf(source);
    const chunk = 5 * 1024 * 1024;
    // Act
    await c.uploadBlob('team/big', digest, source, { chunkSize: chunk });
    // Assess
    const patches = proxy.seen.filter((s) => s.method === 'PATCH');
    expect(patches.map((p) => p.contentRange)).toEqual([
      `0-${chunk - 1}`,
      `${chunk}-${2 * chunk - 1}`,
      `${2 * chunk}-${3 * chunk - 1}`,
      `${3 * chunk}-${4 * chunk - 1}`,
      `${4 * chunk}-${size - 1}`,
    ]);
    const puts = proxy.seen.filter((s) => s.method === 'PUT');
    expect(puts).toHaveLength(1);
    expect(new URL(puts[0]!.path, proxy.url).searchParams.get('digest')).toBe(digest);
    expect(new URL(puts[0]!.path, proxy.url).searchParams.has('_state')).toBe(true);
    expect(await c.headBlob('team/big', digest)).toEqual({ size });
    const hash = createHash('sha256');
    await c.getBlob('team/big', digest, async (body) => {
      for await (const part of body) hash.update(part as Buffer);
    });
    expect(`sha256:${hash.digest('hex')}`).toBe(digest);
  });

  it('uploads in one request by default, and in PATCHes of the endpoint\'s uploadChunkBytes when set (a proxy\'s body limit)', async () => {
    // Prepare: one blob bigger than 64 MiB would have been chunked before; the same pushed with a limit
    const proxy = await recordingProxy(registry.url);
    const size = 3 * 1024 * 1024 + 7;
    const source = generatedSource(size, 'one-request');
    const digest = await digestOf(source);
    // Act
    await client({ baseUrl: proxy.url }).uploadBlob('team/one', digest, source);
    const unlimited = proxy.seen.splice(0).map((s) => s.method);
    await client({ baseUrl: proxy.url, uploadChunkBytes: 1024 * 1024 }).uploadBlob('team/limited', digest, source);
    const limited = proxy.seen.filter((s) => s.method === 'PATCH').map((p) => p.contentRange);
    // Assess
    expect(unlimited.filter((m) => m === 'PATCH')).toEqual([]);
    expect(unlimited.filter((m) => m === 'PUT')).toHaveLength(1);
    expect(limited).toEqual(['0-1048575', '1048576-2097151', '2097152-3145727', `3145728-${size - 1}`]);
    expect(await client({ baseUrl: registry.url }).headBlob('team/limited', digest)).toEqual({ size });
  });

  it('refuses to upload content that does not hash to the digest, and stores nothing', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url });
    const content = Buffer.from('these are not the bytes you are looking for');
    const claimed = sha256Of('other bytes');
    // Act
    const error = await caught(c.uploadBlob('team/bad', claimed, bufferSource(content)));
    // Assess
    expect(error).toBeInstanceOf(BlobDigestError);
    expect((error as BlobDigestError).cause).toBeInstanceOf(ChecksumMismatchError);
    expect(await c.headBlob('team/bad', claimed)).toBeUndefined();
  });

  it('mounts a blob from another repository, after which the target repository has it', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url });
    const layer = await makeLayer({ 'shared.txt': 'mount me' });
    await c.uploadBlob('team/source', layer.digest, bufferSource(layer.bytes));
    const before = await c.headBlob('team/target', layer.digest);
    // Act
    const mounted = await c.mountBlob('team/target', layer.digest, 'team/source');
    // Assess
    expect(before).toBeUndefined();
    expect(mounted).toBe(true);
    expect(await c.headBlob('team/target', layer.digest)).toEqual({ size: layer.size });
  });

  it('reports false when the registry cannot mount (blob absent in the source) and cancels the upload it started', async () => {
    // Prepare
    const proxy = await recordingProxy(registry.url);
    const c = client({ baseUrl: proxy.url });
    const absent = sha256Of('never pushed');
    // Act
    const mounted = await c.mountBlob('team/target', absent, 'team/source');
    // Assess
    expect(mounted).toBe(false);
    expect(proxy.seen.map((s) => s.method)).toEqual(['POST', 'DELETE']);
    expect(await c.headBlob('team/target', absent)).toBeUndefined();
  });

  it('answers undefined for a HEAD of a missing blob or manifest', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url });
    const missing = sha256Of('missing');
    // Act
    const blob = await c.headBlob('team/app', missing);
    const manifest = await c.headManifest('team/app', 'no-such-tag');
    const manifestByDigest = await c.headManifest('team/nowhere', missing);
    // Assess
    expect(blob).toBeUndefined();
    expect(manifest).toBeUndefined();
    expect(manifestByDigest).toBeUndefined();
  });

  it('lists all tags of a repository (docker-registry 2.8 ignores n and sends no Link)', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url });
    const image = makeImage({ layers: [await makeLayer({ 'f': 'tags' })] });
    for (const tag of ['t1', 't2', 't3', 't4', 't5']) await pushImage(c, 'team/tags', tag, image);
    // Act
    const tags: string[] = [];
    for await (const tag of c.tags('team/tags', { pageSize: 2 })) tags.push(tag);
    // Assess
    expect(tags.sort()).toEqual(['t1', 't2', 't3', 't4', 't5']);
  });

  it('pages through the catalog with n and the Link header', async () => {
    // Prepare
    const proxy = await recordingProxy(registry.url);
    const c = client({ baseUrl: proxy.url });
    const image = makeImage({ layers: [await makeLayer({ 'f': 'catalog' })] });
    for (const name of ['cat/a', 'cat/b', 'cat/c']) await pushImage(c, name, 'v1', image);
    proxy.seen.length = 0;
    // Act
    const names: string[] = [];
    for await (const name of c.catalog({ pageSize: 2 })) names.push(name);
    // Assess
    expect(names).toEqual(expect.arrayContaining(['cat/a', 'cat/b', 'cat/c', 'team/app']));
    expect(new Set(names).size).toBe(names.length);
    const pages = proxy.seen.filter((s) => s.path.startsWith('/v2/_catalog'));
    expect(pages.length).toBe(Math.ceil(names.length / 2));
    expect(pages.slice(1).every((p) => new URL(p.path, proxy.url).searchParams.has('last'))).toBe(true);
  });

  it('answers undefined for referrers: docker-registry 2.8 has no referrers API', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url });
    const image = makeImage({ layers: [await makeLayer({ 'f': 'referrers' })] });
    const digest = await pushImage(c, 'team/refs', 'v1', image);
    // Act
    const referrers = await c.referrers('team/refs', digest);
    // Assess
    expect(referrers).toBeUndefined();
  });

  it('deletes a manifest by digest', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url });
    const image = makeImage({ layers: [await makeLayer({ 'f': 'delete me' })] });
    const digest = await pushImage(c, 'team/delete', 'v1', image);
    // Act
    await c.deleteManifest('team/delete', digest);
    // Assess
    expect(await c.headManifest('team/delete', digest)).toBeUndefined();
  });

  it('reports a missing manifest with the registry error code and the request path', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url });
    // Act
    const error = await caught(c.getManifest('team/app', 'absent'));
    // Assess
    expect(error).toBeInstanceOf(RegistryHttpError);
    expect((error as RegistryHttpError).status).toBe(404);
    expect((error as RegistryHttpError).hasCode('MANIFEST_UNKNOWN')).toBe(true);
    expect((error as Error).message).toContain('GET /v2/team/app/manifests/absent');
  });
});

// ───────────────────────────── fake registries (faults) ─────────────────────────────

describe('RegistryClient against fake registries', () => {
  it('refuses a blob whose bytes do not match its digest, without retrying', async () => {
    // Prepare
    const wanted = Buffer.from('the genuine layer');
    const digest = sha256Of(wanted);
    let hits = 0;
    const url = await listen((req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.from('a tampered layer!'));
    });
    const c = client({ baseUrl: url });
    let consumed: Buffer | undefined;
    // Act
    const error = await caught(
      c.getBlob('team/app', digest, async (body) => {
        consumed = await collect(body);
      }),
    );
    // Assess
    expect(error).toBeInstanceOf(BlobDigestError);
    expect((error as BlobDigestError).cause).toBeInstanceOf(ChecksumMismatchError);
    expect(consumed).toBeUndefined();
    expect(hits).toBe(1);
  });

  it('re-runs the whole blob download, consumer included, after a transient 503', async () => {
    // Prepare
    const bytes = Buffer.from('layer after a hiccup');
    let hits = 0;
    const url = await listen((req, res) => {
      hits++;
      if (hits === 1) res.writeHead(503).end();
      else res.writeHead(200).end(bytes);
    });
    const retries: string[] = [];
    const c = client({ baseUrl: url, onRetry: (info) => retries.push(`${info.reason} ${info.path}`) });
    let runs = 0;
    // Act
    const received = await c.getBlob('team/app', sha256Of(bytes), async (body) => {
      runs++;
      return collect(body);
    });
    // Assess
    expect(received.equals(bytes)).toBe(true);
    expect(hits).toBe(2);
    expect(runs).toBe(1);
    expect(retries).toEqual([`HTTP 503 /v2/team/app/blobs/${sha256Of(bytes)}`]);
  });

  it('follows a blob redirect to another origin without sending it the registry credentials', async () => {
    // Prepare
    const bytes = Buffer.from('layer served from object storage');
    const digest = sha256Of(bytes);
    const storageSaw: (string | undefined)[] = [];
    const storage = await listen((req, res) => {
      storageSaw.push(req.headers.authorization);
      res.writeHead(200).end(bytes);
    });
    const url = await listen((req, res) => {
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end();
        return;
      }
      res.writeHead(307, { location: `${storage}/blobs/abc?X-Amz-Signature=secret-signature` }).end();
    });
    const c = client({ baseUrl: url, username: USER.username, password: USER.password });
    // Act
    const received = await c.getBlob('team/app', digest, collect);
    // Assess
    expect(received.equals(bytes)).toBe(true);
    expect(storageSaw).toEqual([undefined]);
  });

  it('fetches a fresh token when the registry refuses a cached one', async () => {
    // Prepare
    let issued = 0;
    const issuer = await listen((req, res) => {
      issued++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `token-${issued}`, expires_in: 300 }));
    });
    let accepted = 'token-1';
    const url = await listen((req, res) => {
      if (req.headers.authorization !== `Bearer ${accepted}`) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${issuer}/token",service="fake",scope="repository:team/app:pull"` }).end();
        return;
      }
      res.writeHead(200, { 'content-length': '3' }).end();
    });
    const c = client({ baseUrl: url });
    await c.headBlob('team/app', sha256Of('x'));
    // Act
    accepted = 'token-2';
    const result = await c.headBlob('team/app', sha256Of('x'));
    // Assess
    expect(result).toEqual({ size: 3 });
    expect(issued).toBe(2);
  });

  it('follows tag pages with n and the Link header', async () => {
    // Prepare
    const all = ['a', 'b', 'c', 'd', 'e'];
    const requested: string[] = [];
    const url = await listen((req, res) => {
      requested.push(req.url ?? '');
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      const n = Number(query.get('n'));
      const last = query.get('last');
      const from = last === null ? 0 : all.indexOf(last) + 1;
      const tags = all.slice(from, from + n);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (from + n < all.length) headers.link = `</v2/team/app/tags/list?n=${n}&last=${tags.at(-1)}>; rel="next"`;
      res.writeHead(200, headers).end(JSON.stringify({ name: 'team/app', tags }));
    });
    const c = client({ baseUrl: url });
    // Act
    const tags: string[] = [];
    for await (const tag of c.tags('team/app', { pageSize: 2 })) tags.push(tag);
    // Assess
    expect(tags).toEqual(all);
    expect(requested).toEqual(['/v2/team/app/tags/list?n=2', '/v2/team/app/tags/list?n=2&last=b', '/v2/team/app/tags/list?n=2&last=d']);
  });

  it('refuses a manifest whose bytes differ from Docker-Content-Digest, and one larger than 4 MiB', async () => {
    // Prepare
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: {}, layers: [] }));
    const url = await listen((req, res) => {
      if (req.url?.endsWith('/huge')) {
        res.writeHead(200, { 'content-type': OCI_MANIFEST, 'content-length': String(5 * 1024 * 1024) });
        res.end(Buffer.alloc(5 * 1024 * 1024, 32));
        return;
      }
      res.writeHead(200, { 'content-type': OCI_MANIFEST, 'docker-content-digest': sha256Of('something else') }).end(bytes);
    });
    const c = client({ baseUrl: url });
    // Act
    const mismatch = await caught(c.getManifest('team/app', 'v1'));
    const huge = await caught(c.getManifest('team/app', 'huge'));
    // Assess
    expect(mismatch).toBeInstanceOf(ImageManifestError);
    expect((mismatch as Error).message).toContain('differs from Docker-Content-Digest');
    expect(huge).toBeInstanceOf(ImageManifestError);
    expect((huge as Error).message).toContain('larger than 4194304 bytes');
  });

  it('names the JSON field path of a malformed manifest', () => {
    // Prepare
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'x', digest: 'sha256:nope', size: 1 }, layers: [], extra: true }));
    // Act
    const error = (() => {
      try {
        parseImageManifest(bytes, OCI_MANIFEST, 'team/app:v1');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    // Assess
    expect(error).toBeInstanceOf(OciDocumentError);
    expect((error as Error).message).toContain('team/app:v1: bad manifest: config.digest:');
  });
});

// ───────────────────────────── basic auth ─────────────────────────────

describe('RegistryClient against a basic-auth registry', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'basic' });
  });
  afterAll(async () => {
    await registry?.close();
  });

  it('pushes and pulls with the configured credentials', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url, username: USER.username, password: USER.password });
    const image = await threeLayerImage('oci', 'basic');
    // Act
    await c.ping();
    const digest = await pushImage(c, 'secure/app', 'v1', image);
    const manifest = await c.getManifest('secure/app', 'v1');
    const raw = await skopeoInspectRaw(`${registry.host}/secure/app:v1`, { creds: USER });
    // Assess
    expect(manifest.digest).toBe(digest);
    expect(manifest.bytes.equals(image.manifest.bytes)).toBe(true);
    expect(raw.equals(image.manifest.bytes)).toBe(true);
  });

  it('fails clearly without credentials', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url });
    // Act
    const error = await caught(c.ping());
    // Assess
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect((error as Error).message).toBe('GET /v2/: authentication failed: the registry requires credentials and none are configured');
  });

  it('fails clearly with a wrong password, which appears nowhere in the error', async () => {
    // Prepare
    const password = 'wrong-password-that-must-not-leak';
    const c = client({ baseUrl: registry.url, username: USER.username, password });
    // Act
    const error = await caught(c.getManifest('secure/app', 'v1'));
    // Assess
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect((error as Error).message).toContain('the registry refused the configured credentials');
    const said = everythingSaid(error);
    expect(said).not.toContain(password);
    expect(said).not.toContain(Buffer.from(`${USER.username}:${password}`).toString('base64'));
  });
});

// ───────────────────────────── token auth ─────────────────────────────

describe('RegistryClient against a token-auth registry', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
  });
  afterAll(async () => {
    await registry?.close();
  });

  it('pushes, mounts and pulls through the Bearer flow, reusing each token across requests of its scope', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url, username: USER.username, password: USER.password });
    const image = await threeLayerImage('oci', 'token');
    const issued = registry.tokenRequests ?? 0;
    // Act
    const digest = await pushImage(c, 'tok/app', 'v1', image);
    const mounted = await c.mountBlob('tok/copy', image.layers[0]!.digest, 'tok/app');
    const afterPush = registry.tokenRequests ?? 0;
    const manifest = await c.getManifest('tok/app', 'v1');
    const blobs = await Promise.all(image.layers.map((l) => c.getBlob('tok/app', l.digest, collect, l.size)));
    await c.getManifest('tok/app', digest);
    const afterPulls = registry.tokenRequests ?? 0;
    // Assess
    expect(manifest.bytes.equals(image.manifest.bytes)).toBe(true);
    expect(blobs.map((b) => sha256Of(b))).toEqual(image.layers.map((l) => l.digest));
    expect(mounted).toBe(true);
    // pull (HEADs), pull+push (uploads), and the mount's push on tok/copy + pull on tok/app.
    expect(afterPush - issued).toBe(3);
    // Pulls of tok/app are covered by the cached pull,push token: no new token.
    expect(afterPulls).toBe(afterPush);
    expect(c.tokenRequests).toBe(afterPulls - issued);
  });

  it('fails clearly without credentials (the token endpoint refuses)', async () => {
    // Prepare
    const c = client({ baseUrl: registry.url });
    // Act
    const error = await caught(c.getManifest('tok/app', 'v1'));
    // Assess
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect((error as Error).message).toMatch(/token endpoint 127\.0\.0\.1:\d+\/token answered HTTP 401: no credentials are configured/);
  });

  it('keeps a wrong password out of every error message', async () => {
    // Prepare
    const password = 'token-flow-password-must-not-leak';
    const c = client({ baseUrl: registry.url, username: USER.username, password });
    // Act
    const error = await caught(c.ping());
    // Assess
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect((error as Error).message).toContain('refused the configured credentials');
    const said = everythingSaid(error);
    expect(said).not.toContain(password);
    expect(said).not.toContain(Buffer.from(`${USER.username}:${password}`).toString('base64'));
  });
});
