import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { signWebhookBody, startNexusStandin, type NexusStandin, type StandinOptions } from './nexus-standin/index.ts';

const running: NexusStandin[] = [];
const receivers: Server[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((standin) => standin.close()));
  await Promise.all(receivers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function start(options: Partial<StandinOptions> = {}): Promise<NexusStandin> {
  const standin = await startNexusStandin({
    repositories: [
      { name: 'raw-a', format: 'raw', type: 'hosted' },
      { name: 'raw-once', format: 'raw', type: 'hosted', writePolicy: 'allow_once' },
      { name: 'raw-deny', format: 'raw', type: 'hosted', writePolicy: 'deny' },
      { name: 'raw-proxy', format: 'raw', type: 'proxy', remoteUrl: 'https://upstream.example/' },
      { name: 'raw-group', format: 'raw', type: 'group', memberNames: ['raw-a', 'raw-once'] },
    ],
    ...options,
  });
  running.push(standin);
  return standin;
}

/** The formula from NEXUS.md, computed independently of the stand-in's code. */
function expectedToken(internalId: number): string {
  return ((BigInt(internalId) * 1327217885n) % 2n ** 32n).toString(16);
}

interface Page {
  items: { id: string; name: string; assets: { path: string; checksum: Record<string, string> }[] }[];
  continuationToken: string | null;
}

async function listAll(base: string, repository: string, kind = 'components'): Promise<Page[]> {
  const pages: Page[] = [];
  let token: string | null = null;
  do {
    const query: string = token === null ? '' : `&continuationToken=${token}`;
    const res = await fetch(`${base}/service/rest/v1/${kind}?repository=${repository}${query}`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as Page;
    pages.push(page);
    token = page.continuationToken;
  } while (token !== null && pages.length < 100);
  return pages;
}

function uploadForm(directory: string, files: Record<string, string>): FormData {
  const form = new FormData();
  form.set('raw.directory', directory);
  Object.entries(files).forEach(([filename, content], index) => {
    form.set(`raw.asset${index + 1}`, new Blob([content]), filename);
    form.set(`raw.asset${index + 1}.filename`, filename);
  });
  return form;
}

/** A bare GET on a fresh connection, reporting what arrived before any error. */
function rawGet(url: string): Promise<{ status?: number; headers?: IncomingHttpHeaders; body: Buffer; error?: Error }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let status: number | undefined;
    let headers: IncomingHttpHeaders | undefined;
    const req = request(url, { agent: false }, (res) => {
      status = res.statusCode;
      headers = res.headers;
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status, headers, body: Buffer.concat(chunks) }));
      res.on('error', (error) => resolve({ status, headers, body: Buffer.concat(chunks), error }));
      res.on('aborted', () => resolve({ status, headers, body: Buffer.concat(chunks), error: new Error('aborted') }));
    });
    req.on('error', (error) => resolve({ status, headers, body: Buffer.concat(chunks), error }));
    req.end();
  });
}

describe('listing', () => {
  it('pages 25 components as 10, 10, 5 with scrambled last-id tokens', async () => {
    // Prepare
    const standin = await start();
    for (let i = 1; i <= 25; i++) standin.putRawAsset('raw-a', `/files/f${i}.txt`, `content ${i}`);
    // Act
    const pages = await listAll(standin.url, 'raw-a');
    // Assess
    expect(pages.map((page) => page.items.length)).toEqual([10, 10, 5]);
    expect(pages.map((page) => page.continuationToken)).toEqual([expectedToken(10), expectedToken(20), null]);
    expect(pages.flatMap((page) => page.items.map((item) => item.name))).toEqual(
      Array.from({ length: 25 }, (_, i) => `files/f${i + 1}.txt`),
    );
  });

  it('follows an exactly full last page with one empty page and a null token', async () => {
    // Prepare
    const standin = await start();
    for (let i = 1; i <= 20; i++) standin.putRawAsset('raw-a', `f${i}.bin`, `x${i}`);
    // Act
    const pages = await listAll(standin.url, 'raw-a', 'assets');
    // Assess
    expect(pages.map((page) => page.items.length)).toEqual([10, 10, 0]);
    expect(pages.at(-1)?.continuationToken).toBeNull();
  });

  it('scrambles tokens as (id * 1327217885) mod 2^32 in unpadded lowercase hex', async () => {
    // Prepare: the ids in NEXUS.md's samples are internal ids 42 and 1000
    const standin = await start({ pageSize: 1 });
    for (let i = 1; i <= 3; i++) standin.putRawAsset('raw-a', `f${i}`, `${i}`);
    // Act
    const first = (await (await fetch(`${standin.url}/service/rest/v1/components?repository=raw-a`)).json()) as Page;
    // Assess
    expect(expectedToken(42)).toBe('fa8cfc42');
    expect(expectedToken(1000)).toBe('459bf48');
    expect(first.continuationToken).toBe(expectedToken(1));
    expect(first.items[0]?.id).toBe(Buffer.from(`raw-a:${expectedToken(1)}`).toString('base64url'));
  });

  it('renders component and asset fields in Nexus order with nulls present', async () => {
    // Prepare
    const when = new Date('2025-01-15T10:20:30.123Z');
    const standin = await start({ clock: () => when });
    standin.putRawAsset('raw-a', 'dir/sub/file.bin', 'abc');
    // Act
    const res = await fetch(`${standin.url}/service/rest/v1/components?repository=raw-a`);
    const text = await res.text();
    const body = JSON.parse(text) as { items: Record<string, unknown>[] };
    // Assess
    const component = body.items[0] as Record<string, unknown>;
    expect(Object.keys(component)).toEqual(['id', 'repository', 'format', 'group', 'name', 'version', 'assets']);
    expect(component).toMatchObject({ repository: 'raw-a', format: 'raw', group: '/dir/sub', name: 'dir/sub/file.bin', version: '' });
    const asset = (component['assets'] as Record<string, unknown>[])[0] as Record<string, unknown>;
    expect(Object.keys(asset)).toEqual([
      'downloadUrl', 'path', 'id', 'repository', 'format', 'checksum', 'contentType', 'lastModified',
      'lastDownloaded', 'uploader', 'uploaderIp', 'fileSize', 'blobCreated', 'blobStoreName', 'raw',
    ]);
    expect(Object.keys(asset['checksum'] as object)).toEqual(['sha1', 'sha512', 'sha256', 'md5']);
    expect(asset).toMatchObject({
      downloadUrl: `${standin.url}/repository/raw-a/dir/sub/file.bin`,
      path: '/dir/sub/file.bin',
      lastModified: '2025-01-15T10:20:30.123+00:00',
      blobCreated: '2025-01-15T10:20:30.123+00:00',
      lastDownloaded: null,
      blobStoreName: null,
      fileSize: 3,
      raw: { contentDisposition: 'ATTACHMENT' },
    });
    expect(text).toContain('"lastDownloaded":null');
  });

  it('uses OrientDB shapes on the orient backend: no leading slash, null version, 406 on a bad token', async () => {
    // Prepare
    const standin = await start({ backend: 'orient' });
    for (let i = 1; i <= 11; i++) standin.putRawAsset('raw-a', `/d/f${i}`, `${i}`);
    // Act
    const pages = await listAll(standin.url, 'raw-a');
    const bad = await fetch(`${standin.url}/service/rest/v1/components?repository=raw-a&continuationToken=${expectedToken(10)}`);
    // Assess
    expect(pages.map((page) => page.items.length)).toEqual([10, 1]);
    expect(pages[0]?.continuationToken).toMatch(/^[0-9a-f]{32}$/);
    const first = pages[0]?.items[0] as unknown as Record<string, unknown> & Page['items'][number];
    expect(first['version']).toBeNull();
    expect(first.assets[0]?.path).toBe('d/f1');
    expect(bad.status).toBe(406);
  });

  it('answers 422 without a repository and 404 for an unknown one', async () => {
    // Prepare
    const standin = await start();
    // Act
    const missing = await fetch(`${standin.url}/service/rest/v1/components`);
    const unknown = await fetch(`${standin.url}/service/rest/v1/assets?repository=nope`);
    // Assess
    expect(missing.status).toBe(422);
    expect(unknown.status).toBe(404);
  });

  it('lists a group as its members content in creation order', async () => {
    // Prepare
    const standin = await start();
    standin.putRawAsset('raw-a', 'a1', '1');
    standin.putRawAsset('raw-once', 'o1', '2');
    standin.putRawAsset('raw-a', 'a2', '3');
    // Act
    const [page] = await listAll(standin.url, 'raw-group');
    // Assess
    expect(page?.items.map((item) => item.name)).toEqual(['a1', 'o1', 'a2']);
  });

  it('keeps ids, blobCreated and position when content is replaced, and moves lastModified', async () => {
    // Prepare
    let now = new Date('2025-01-01T00:00:00.000Z');
    const standin = await start({ clock: () => now });
    const first = standin.putRawAsset('raw-a', 'x', 'one');
    standin.putRawAsset('raw-a', 'y', 'two');
    now = new Date('2025-02-01T00:00:00.000Z');
    // Act
    const again = standin.putRawAsset('raw-a', '/x', 'three');
    const [page] = await listAll(standin.url, 'raw-a', 'assets');
    // Assess
    expect(again).toEqual(first);
    const asset = page?.items[0] as unknown as Record<string, unknown>;
    expect(asset['path']).toBe('/x');
    expect(asset['blobCreated']).toBe('2025-01-01T00:00:00.000+00:00');
    expect(asset['lastModified']).toBe('2025-02-01T00:00:00.000+00:00');
    expect(standin.getAsset('raw-a', 'x')?.content.toString()).toBe('three');
    expect(standin.assetPaths('raw-a')).toEqual(['/x', '/y']);
  });

  it('gets and deletes components by id, 404 once gone', async () => {
    // Prepare
    const standin = await start();
    const { componentId } = standin.putRawAsset('raw-a', 'gone.txt', 'bye');
    // Act
    const got = await fetch(`${standin.url}/service/rest/v1/components/${componentId}`);
    const deleted = await fetch(`${standin.url}/service/rest/v1/components/${componentId}`, { method: 'DELETE' });
    const after = await fetch(`${standin.url}/service/rest/v1/components/${componentId}`);
    // Assess
    expect(got.status).toBe(200);
    expect(deleted.status).toBe(204);
    expect(after.status).toBe(404);
    expect(standin.getAsset('raw-a', 'gone.txt')).toBeUndefined();
  });
});

describe('auth and repositories', () => {
  it('requires basic auth when users are configured', async () => {
    // Prepare
    const standin = await start({ users: [{ username: 'admin', password: 'secret' }] });
    const good = `Basic ${Buffer.from('admin:secret').toString('base64')}`;
    const bad = `Basic ${Buffer.from('admin:wrong').toString('base64')}`;
    // Act
    const none = await fetch(`${standin.url}/service/rest/v1/repositories`);
    const wrong = await fetch(`${standin.url}/repository/raw-a/x`, { headers: { Authorization: bad } });
    const ok = await fetch(`${standin.url}/service/rest/v1/repositories`, { headers: { Authorization: good } });
    // Assess
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('BASIC realm="Sonatype Nexus Repository Manager"');
    expect(wrong.status).toBe(401);
    expect(ok.status).toBe(200);
  });

  it('lists repositories as a plain array with proxy remote URLs', async () => {
    // Prepare
    const standin = await start();
    // Act
    const repos = (await (await fetch(`${standin.url}/service/rest/v1/repositories`)).json()) as Record<string, unknown>[];
    // Assess
    expect(Object.keys(repos[0] ?? {})).toEqual(['name', 'format', 'type', 'url', 'attributes']);
    expect(repos.find((repo) => repo['name'] === 'raw-proxy')).toEqual({
      name: 'raw-proxy',
      format: 'raw',
      type: 'proxy',
      url: `${standin.url}/repository/raw-proxy`,
      attributes: { proxy: { remoteUrl: 'https://upstream.example/' } },
    });
  });

  it('gives online, the write policy of hosted repositories and a group\'s members in /v1/repositorySettings', async () => {
    // Prepare
    const standin = await start({ repositories: [
      { name: 'raw-once', format: 'raw', type: 'hosted', writePolicy: 'allow_once' },
      { name: 'raw-off', format: 'raw', type: 'hosted', online: false },
      { name: 'raw-group', format: 'raw', type: 'group', memberNames: ['raw-once'] },
    ] });
    // Act
    const settings = (await (await fetch(`${standin.url}/service/rest/v1/repositorySettings`)).json()) as Record<string, any>[];
    const byName = Object.fromEntries(settings.map((r) => [r['name'], r]));
    // Assess
    expect(byName['raw-once']).toMatchObject({ type: 'hosted', online: true, storage: { writePolicy: 'allow_once' } });
    expect(byName['raw-off']).toMatchObject({ online: false, storage: { writePolicy: 'allow' } });
    expect(byName['raw-group']).toMatchObject({ type: 'group', group: { memberNames: ['raw-once'] } });
    expect(byName['raw-group']!['storage']).not.toHaveProperty('writePolicy');
  });
});

describe('uploads', () => {
  it('round-trips a multipart upload with checksums that match the content', async () => {
    // Prepare
    const standin = await start();
    const content = 'x'.repeat(100_000);
    // Act
    const res = await fetch(`${standin.url}/service/rest/v1/components?repository=raw-a`, {
      method: 'POST',
      body: uploadForm('//up/dir/', { 'a.bin': content, 'b.txt': 'bee' }),
    });
    const download = await fetch(`${standin.url}/repository/raw-a/up/dir/a.bin`);
    const bytes = Buffer.from(await download.arrayBuffer());
    const [page] = await listAll(standin.url, 'raw-a');
    // Assess
    expect(res.status).toBe(204);
    expect(download.headers.get('content-length')).toBe('100000');
    expect(download.headers.get('last-modified')).not.toBeNull();
    expect(page?.items.map((item) => item.assets[0]?.path)).toEqual(['/up/dir/a.bin', '/up/dir/b.txt']);
    expect(page?.items[0]?.assets[0]?.checksum['sha256']).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(bytes.toString()).toBe(content);
    expect(standin.uploadCount('raw-a', 'up/dir/a.bin')).toBe(1);
  });

  it('accepts a raw PUT with 201 and counts re-uploads of identical bytes', async () => {
    // Prepare
    const standin = await start();
    // Act
    const first = await fetch(`${standin.url}/repository/raw-a/p/q.txt`, { method: 'PUT', body: 'same' });
    const second = await fetch(`${standin.url}/repository/raw-a/p/q.txt`, { method: 'PUT', body: 'same' });
    // Assess
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(standin.uploadCount('raw-a', '/p/q.txt')).toBe(2);
    expect(standin.assetPaths('raw-a')).toEqual(['/p/q.txt']);
  });

  it('refuses a redeploy on allow_once and any write on deny with 400', async () => {
    // Prepare
    const standin = await start();
    standin.putRawAsset('raw-once', 'd/f.txt', 'v1');
    const post = (repository: string): Promise<Response> =>
      fetch(`${standin.url}/service/rest/v1/components?repository=${repository}`, {
        method: 'POST',
        body: uploadForm('/d', { 'f.txt': 'v2' }),
      });
    // Act
    const once = await post('raw-once');
    const deny = await post('raw-deny');
    const put = await fetch(`${standin.url}/repository/raw-once/d/f.txt`, { method: 'PUT', body: 'v3' });
    // Assess
    expect(once.status).toBe(400);
    expect(await once.json()).toEqual([{ id: '*', message: 'raw-once/d/f.txt cannot be updated' }]);
    expect(deny.status).toBe(400);
    expect(await deny.json()).toEqual([{ id: '*', message: 'raw-deny is read-only' }]);
    expect(put.status).toBe(400);
    expect(standin.getAsset('raw-once', '/d/f.txt')?.content.toString()).toBe('v1');
    expect(standin.uploadCount('raw-once', 'd/f.txt')).toBe(0);
  });

  it('rejects bad upload requests with Nexus-style 400s and an unknown repository with 404', async () => {
    // Prepare
    const standin = await start();
    const url = (repository: string): string => `${standin.url}/service/rest/v1/components?repository=${repository}`;
    const noFilename = new FormData();
    noFilename.set('raw.directory', '/d');
    noFilename.set('raw.asset1', new Blob(['x']), 'x');
    const unknownField = uploadForm('/d', { 'x.txt': 'x' });
    unknownField.set('raw.bogus', 'y');
    // Act
    const notMultipart = await fetch(url('raw-a'), { method: 'POST', body: 'plain', headers: { 'Content-Type': 'text/plain' } });
    const missing = await fetch(url('raw-a'), { method: 'POST', body: noFilename });
    const unknown = await fetch(url('raw-a'), { method: 'POST', body: unknownField });
    const noAssets = await fetch(url('raw-a'), { method: 'POST', body: uploadForm('/d', {}) });
    const group = await fetch(url('raw-group'), { method: 'POST', body: uploadForm('/d', { 'x.txt': 'x' }) });
    const nowhere = await fetch(url('nope'), { method: 'POST', body: uploadForm('/d', { 'x.txt': 'x' }) });
    // Assess
    expect([notMultipart.status, missing.status, unknown.status, noAssets.status, group.status]).toEqual([400, 400, 400, 400, 400]);
    expect(await missing.json()).toEqual([{ id: '*', message: "Missing required asset field 'Filename' on '1'" }]);
    expect(await unknown.json()).toEqual([{ id: '*', message: 'Unknown field name: raw.bogus' }]);
    expect(nowhere.status).toBe(404);
    expect(standin.assetPaths('raw-a')).toEqual([]);
  });

  it.each(['./x.txt', 'a\u0007.txt'])('refuses a path with a dot segment or a control character (%j) with 400, writing nothing', async (filename) => {
    // Prepare
    const standin = await start();
    // Act
    const form = uploadForm('/d', { 'x.txt': 'x' });
    form.set('raw.asset1.filename', filename);
    const response = await fetch(`${standin.url}/service/rest/v1/components?repository=raw-a`, { method: 'POST', body: form });
    // Assess
    expect(response.status).toBe(400);
    expect(standin.assetPaths('raw-a')).toEqual([]);
  });
  it('leaves nothing behind when the client aborts a multipart upload midway', async () => {
    // Prepare
    const dataDir = mkdtempSync(join(tmpdir(), 'standin-test-'));
    const standin = await start({ dataDir });
    const boundary = 'XyZ';
    const head =
      `--${boundary}\r\nContent-Disposition: form-data; name="raw.directory"\r\n\r\n/d\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="raw.asset1.filename"\r\n\r\nf.bin\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="raw.asset1"; filename="f.bin"\r\n\r\n`;
    // Act
    const req = request(`${standin.url}/service/rest/v1/components?repository=raw-a`, {
      method: 'POST',
      agent: false,
      headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': 1_000_000 },
    });
    req.on('error', () => {});
    req.write(head + 'x'.repeat(10_000));
    await new Promise((resolve) => setTimeout(resolve, 100));
    req.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Assess
    expect(standin.assetPaths('raw-a')).toEqual([]);
    expect(standin.uploadCount('raw-a', 'd/f.bin')).toBe(0);
    expect(readdirSync(join(dataDir, 'tmp'))).toEqual([]);
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('webhooks', () => {
  const samples = [
    {
      body: '{"timestamp":"2025-01-15T10:20:30.123+00:00","nodeId":"52905B51-085CCABB-CEBBEAAD-16795588-FC927D93","initiator":"admin/10.0.0.5","repositoryName":"maven-releases","action":"CREATED","component":{"id":"fa8cfc42","componentId":"bWF2ZW4tcmVsZWFzZXM6ZmE4Y2ZjNDI","format":"maven2","name":"widget","group":"org.example","version":"1.0.0"}}',
      signature: 'cda7c92d0df34fd634295c4321da1e05571469ae',
    },
    {
      body: '{"timestamp":"2025-01-15T10:20:30.456+00:00","nodeId":"52905B51-085CCABB-CEBBEAAD-16795588-FC927D93","initiator":"admin/10.0.0.5","repositoryName":"helm-hosted","action":"CREATED","asset":{"id":"459bf48","assetId":"aGVsbS1ob3N0ZWQ6NDU5YmY0OA","format":"helm","name":"/mychart-1.2.3.tgz"}}',
      signature: '362d9e9dcf5e45688023d220196606ee4de42b42',
    },
  ];

  it('reproduces the signatures of the two sample deliveries in NEXUS.md', () => {
    // Prepare / Act
    const signatures = samples.map((sample) => signWebhookBody('s3cret', sample.body));
    // Assess
    expect(signatures).toEqual(samples.map((sample) => sample.signature));
    expect(signWebhookBody('s3cret', Buffer.from(samples[0]?.body ?? ''))).toBe(samples[0]?.signature);
  });

  it('delivers signed component and asset events to a local receiver', async () => {
    // Prepare
    const received: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200).end();
      });
    });
    receivers.push(receiver);
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const standin = await start({ clock: () => new Date('2025-01-15T10:20:30.123Z') });
    standin.addWebhook({ repository: 'raw-a', url: hookUrl, secret: 's3cret', events: ['component', 'asset'] });
    // Act
    const res = await fetch(`${standin.url}/service/rest/v1/components?repository=raw-a`, {
      method: 'POST',
      body: uploadForm('/dir', { 'w.bin': 'payload' }),
    });
    await standin.webhooksIdle();
    // Assess
    expect(res.status).toBe(204);
    expect(received).toHaveLength(2);
    const component = received.find((r) => r.headers['x-nexus-webhook-id'] === 'rm:repository:component');
    const asset = received.find((r) => r.headers['x-nexus-webhook-id'] === 'rm:repository:asset');
    for (const delivery of [component, asset]) {
      expect(delivery?.headers['content-type']).toBe('application/json; charset=UTF-8');
      expect(delivery?.headers['x-nexus-webhook-delivery']).toMatch(/^[0-9a-f-]{36}$/);
      expect(delivery?.headers['x-nexus-webhook-signature']).toBe(signWebhookBody('s3cret', delivery?.body ?? ''));
    }
    const componentBody = JSON.parse(component?.body.toString() ?? '{}') as Record<string, unknown>;
    expect(Object.keys(componentBody)).toEqual(['timestamp', 'nodeId', 'initiator', 'repositoryName', 'action', 'component']);
    expect(componentBody).toMatchObject({
      timestamp: '2025-01-15T10:20:30.123+00:00',
      initiator: 'anonymous/127.0.0.1',
      repositoryName: 'raw-a',
      action: 'CREATED',
      component: { id: expectedToken(1), componentId: Buffer.from(`raw-a:${expectedToken(1)}`).toString('base64url'), format: 'raw', name: 'dir/w.bin', group: '/dir', version: '' },
    });
    expect(componentBody['nodeId']).toMatch(/^[0-9A-F]{8}(-[0-9A-F]{8}){4}$/);
    expect(JSON.parse(asset?.body.toString() ?? '{}')).toMatchObject({ asset: { id: expectedToken(1), format: 'raw', name: '/dir/w.bin' } });
    expect(standin.webhookFailures).toBe(0);
  });

  it('never retries a failed delivery and only counts it; refuses group webhooks', async () => {
    // Prepare
    let hits = 0;
    const receiver = createServer((req, res) => {
      hits++;
      req.resume();
      res.writeHead(500).end();
    });
    receivers.push(receiver);
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const standin = await start();
    standin.addWebhook({ repository: 'raw-a', url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`, events: ['asset'] });
    // Act
    standin.putRawAsset('raw-a', 'f', 'x');
    await standin.webhooksIdle();
    // Assess
    expect(hits).toBe(1);
    expect(standin.webhookFailures).toBe(1);
    expect(() => standin.addWebhook({ repository: 'raw-group', url: 'http://127.0.0.1:1/', events: ['asset'] })).toThrow(/group/);
  });

  it('fires an asset UPDATED on the first download (SQL store), not on every download', async () => {
    // Prepare
    const bodies: string[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString());
        res.writeHead(204).end();
      });
    });
    receivers.push(receiver);
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const standin = await start();
    standin.putRawAsset('raw-a', 'dl.txt', 'x');
    standin.addWebhook({ repository: 'raw-a', url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`, events: ['asset'] });
    // Act
    await (await fetch(`${standin.url}/repository/raw-a/dl.txt`)).text();
    await (await fetch(`${standin.url}/repository/raw-a/dl.txt`)).text();
    await standin.webhooksIdle();
    // Assess
    expect(bodies.map((body) => (JSON.parse(body) as { action: string }).action)).toEqual(['UPDATED']);
    const [asset] = (await listAll(standin.url, 'raw-a', 'assets'))[0]?.items ?? [];
    expect((asset as unknown as Record<string, unknown>)['lastDownloaded']).not.toBeNull();
  });
});

describe('faults', () => {
  it('answers a status fault instead of handling, then recovers', async () => {
    // Prepare
    const standin = await start();
    standin.injectFault({ kind: 'status', status: 503, url: /\/v1\/components/, times: 2 });
    const url = `${standin.url}/service/rest/v1/components?repository=raw-a`;
    // Act
    const statuses = [(await fetch(url)).status, (await fetch(url)).status, (await fetch(url)).status];
    // Assess
    expect(statuses).toEqual([503, 503, 200]);
    expect(standin.requests.map((entry) => entry.status)).toEqual([503, 503, 200]);
    expect(standin.requests[0]?.url).toBe('/service/rest/v1/components?repository=raw-a');
  });

  it('sends 429 with Retry-After', async () => {
    // Prepare
    const standin = await start();
    standin.injectFault({ kind: 'retry-after', retryAfter: '2', url: /repositories/ });
    // Act
    const res = await fetch(`${standin.url}/service/rest/v1/repositories`);
    // Assess
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('2');
  });

  it('truncates a download after N bytes with the full Content-Length', async () => {
    // Prepare
    const standin = await start();
    standin.putRawAsset('raw-a', 'big.bin', Buffer.alloc(200_000, 7));
    standin.injectFault({ kind: 'truncate', afterBytes: 1000, url: /big\.bin/, method: 'GET' });
    // Act
    const result = await rawGet(`${standin.url}/repository/raw-a/big.bin`);
    // Assess
    expect(result.status).toBe(200);
    expect(result.headers?.['content-length']).toBe('200000');
    expect(result.body.length).toBe(1000);
    expect(result.error).toBeDefined();
    expect(standin.requests.at(-1)?.status).toBe(0);
  });

  it('corrupts one byte of a download, keeping the length', async () => {
    // Prepare
    const standin = await start();
    const content = Buffer.alloc(5000, 1);
    standin.putRawAsset('raw-a', 'c.bin', content);
    standin.injectFault({ kind: 'corrupt', url: /c\.bin/ });
    // Act
    const bad = await rawGet(`${standin.url}/repository/raw-a/c.bin`);
    const good = await rawGet(`${standin.url}/repository/raw-a/c.bin`);
    // Assess
    expect(bad.body.length).toBe(5000);
    expect([...bad.body].filter((byte, i) => byte !== content[i])).toHaveLength(1);
    expect(good.body.equals(content)).toBe(true);
  });

  it('resets the connection without a response', async () => {
    // Prepare
    const standin = await start();
    standin.injectFault({ kind: 'reset', url: /status/ });
    // Act
    const result = await rawGet(`${standin.url}/service/rest/v1/status`);
    // Assess
    expect(result.status).toBeUndefined();
    expect(result.error).toBeDefined();
    expect(standin.requests).toEqual([{ method: 'GET', url: '/service/rest/v1/status', status: 0 }]);
  });

  it('delays a response and then answers normally', async () => {
    // Prepare
    const standin = await start();
    standin.injectFault({ kind: 'delay', ms: 300, url: /status/ });
    // Act
    const started = Date.now();
    const res = await fetch(`${standin.url}/service/rest/v1/status`);
    // Assess
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });
});

describe('main.ts', () => {
  it('prints its URL as one JSON line and exits cleanly on SIGTERM', async () => {
    // Prepare
    const child = spawn(process.execPath, ['test/nexus-standin/main.ts', '--repos', 'raw-a:raw:hosted', '--port', '0', '--user', 'admin:secret'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const { url } = JSON.parse(line.toString()) as { url: string };
    // Act
    const res = await fetch(`${url}/service/rest/v1/status`, { headers: { Authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` } });
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    // Assess
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(res.status).toBe(200);
    expect(code).toBe(0);
  });
});
