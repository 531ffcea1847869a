import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { afterEach, describe, expect, it } from 'vitest';
import { ChecksumMismatchError } from '../shared/digest.ts';
import {
  NexusChecksumError,
  NexusClient,
  NexusHttpError,
  NexusNetworkError,
  NexusResponseError,
  expectedChecksums,
  type NexusClientOptions,
} from '../shared/adapters/nexus/index.ts';

// ───────────────────────────── helpers ─────────────────────────────

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => unknown;

const servers: Server[] = [];
const clients: NexusClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

async function serve(handler: Handler): Promise<{ url: string; requests: Recorded[] }> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    void Promise.resolve(handler(req, res, requests.length)).catch((error: unknown) => {
      res.statusCode = 599;
      res.end(String(error));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests };
}

function client(options: NexusClientOptions): NexusClient {
  const c = new NexusClient({ retry: { baseDelayMs: 1, maxDelayMs: 5 }, ...options });
  clients.push(c);
  return c;
}

function json(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const hex = (algorithm: string, data: Uint8Array): string => createHash(algorithm).update(data).digest('hex');

/** A component as the SQL store (3.71+) writes it. */
function sqlComponent(n: number): Record<string, unknown> {
  return {
    id: `cmF3LWhvc3RlZDo${n}`,
    repository: 'raw-hosted',
    format: 'raw',
    group: '',
    name: `file-${n}.bin`,
    version: '',
    assets: [
      {
        downloadUrl: `http://nexus/repository/raw-hosted/dir/file-${n}.bin`,
        path: `/dir/file-${n}.bin`,
        id: `YXNzZXQ${n}`,
        repository: 'raw-hosted',
        format: 'raw',
        checksum: { sha1: 'A'.repeat(40), sha256: 'B'.repeat(64), md5: 'c'.repeat(32), sha512: 'd'.repeat(128) },
        contentType: 'application/octet-stream',
        lastModified: '2025-01-15T10:20:30.123+00:00',
        lastDownloaded: null,
        uploader: 'admin',
        uploaderIp: '10.0.0.5',
        fileSize: 1234,
        blobCreated: '2025-01-15T10:20:30.123+00:00',
        blobStoreName: null,
        raw: {},
      },
    ],
  };
}

/** A component as an old OrientDB Nexus (3.29) writes it: no leading '/', nulls, '+0000', no newer fields. */
function orientComponent(n: number): Record<string, unknown> {
  return {
    id: `orient-${n}`,
    repository: 'npm-hosted',
    format: 'npm',
    group: null,
    name: `pkg${n}`,
    version: '1.0.0',
    assets: [
      {
        downloadUrl: `http://nexus/repository/npm-hosted/pkg${n}/-/pkg${n}-1.0.0.tgz`,
        path: `pkg${n}/-/pkg${n}-1.0.0.tgz`,
        id: `orient-asset-${n}`,
        repository: 'npm-hosted',
        format: 'npm',
        checksum: { sha1: 'E'.repeat(40), md5: 'F'.repeat(32) },
        contentType: 'application/x-tgz',
        lastModified: '2021-03-04T05:06:07.890+0000',
      },
    ],
  };
}

// ───────────────────────────── listing ─────────────────────────────

describe('NexusClient listing', () => {
  it('pages over 3 pages lazily, following tokens until null (with a base path prefix)', async () => {
    // Prepare
    const { url, requests } = await serve((req, res) => {
      const token = new URL(req.url ?? '', 'http://x').searchParams.get('continuationToken');
      if (token === null) json(res, { items: [sqlComponent(1), sqlComponent(2)], continuationToken: '4f1a' });
      else if (token === '4f1a') json(res, { items: [sqlComponent(3)], continuationToken: '9e2b' });
      else if (token === '9e2b') json(res, { items: [sqlComponent(4)], continuationToken: null });
      else json(res, [{ id: '*', message: 'bad token' }], 406);
    });
    const nexus = client({ baseUrl: `${url}/nexus/` });

    // Act
    const pages = nexus.componentPages('raw-hosted')[Symbol.asyncIterator]();
    const beforeFirst = requests.length;
    const first = await pages.next();
    const afterFirst = requests.length;
    const second = await pages.next();
    const afterSecond = requests.length;
    const third = await pages.next();
    const end = await pages.next();

    // Assess
    expect(beforeFirst).toBe(0);
    expect(afterFirst).toBe(1);
    expect(afterSecond).toBe(2);
    expect(requests).toHaveLength(3);
    expect(requests.map((r) => r.url)).toEqual([
      '/nexus/service/rest/v1/components?repository=raw-hosted',
      '/nexus/service/rest/v1/components?repository=raw-hosted&continuationToken=4f1a',
      '/nexus/service/rest/v1/components?repository=raw-hosted&continuationToken=9e2b',
    ]);
    expect(first.done ? [] : first.value.items.map((c) => c.name)).toEqual(['file-1.bin', 'file-2.bin']);
    expect(second.done ? null : second.value.continuationToken).toBe('9e2b');
    expect(third.done ? 'x' : third.value.continuationToken).toBeNull();
    expect(end.done).toBe(true);
  });

  it('resumes from a checkpointed continuation token', async () => {
    // Prepare
    const { url, requests } = await serve((_req, res) => json(res, { items: [sqlComponent(9)], continuationToken: null }));
    const nexus = client({ baseUrl: url });

    // Act
    const pages = [];
    for await (const page of nexus.componentPages('raw-hosted', 'abc')) pages.push(page);

    // Assess
    expect(pages).toHaveLength(1);
    expect(requests[0]?.url).toBe('/service/rest/v1/components?repository=raw-hosted&continuationToken=abc');
  });

  it('parses both backend shapes into the same normalised records', async () => {
    // Prepare
    const { url } = await serve((_req, res) =>
      json(res, { items: [sqlComponent(1), orientComponent(2)], continuationToken: null }),
    );
    const nexus = client({ baseUrl: url });

    // Act
    const items = [];
    for await (const page of nexus.componentPages('any')) items.push(...page.items);

    // Assess
    expect(items[0]).toEqual({
      id: 'cmF3LWhvc3RlZDo1',
      repository: 'raw-hosted',
      format: 'raw',
      group: null,
      name: 'file-1.bin',
      version: null,
      assets: [
        {
          path: '/dir/file-1.bin',
          checksums: { sha1: 'a'.repeat(40), sha256: 'b'.repeat(64), md5: 'c'.repeat(32), sha512: 'd'.repeat(128) },
          lastModified: '2025-01-15T10:20:30.123Z',
          size: 1234,
        },
      ],
    });
    expect(items[1]).toEqual({
      id: 'orient-2',
      repository: 'npm-hosted',
      format: 'npm',
      group: null,
      name: 'pkg2',
      version: '1.0.0',
      assets: [
        {
          path: '/pkg2/-/pkg2-1.0.0.tgz',
          checksums: { sha1: 'e'.repeat(40), md5: 'f'.repeat(32) },
          lastModified: '2021-03-04T05:06:07.890Z',
          size: null,
        },
      ],
    });
  });

  it('lists assets and repositories', async () => {
    // Prepare
    const { url } = await serve((req, res) => {
      if (req.url?.startsWith('/service/rest/v1/repositories')) {
        json(res, [
          { name: 'raw-hosted', format: 'raw', type: 'hosted', url: 'http://n/repository/raw-hosted', attributes: {} },
          { name: 'npm-proxy', format: 'npm', type: 'proxy', url: 'http://n/repository/npm-proxy', attributes: { proxy: { remoteUrl: 'https://registry.npmjs.org' } } },
        ]);
      } else {
        json(res, { items: [(orientComponent(1).assets as unknown[])[0]], continuationToken: null });
      }
    });
    const nexus = client({ baseUrl: url });

    // Act
    const repositories = await nexus.listRepositories();
    const assets = [];
    for await (const asset of nexus.listAssets('npm-hosted')) assets.push(asset);

    // Assess
    expect(repositories.map((r) => [r.name, r.type, r.attributes.proxy?.remoteUrl ?? null])).toEqual([
      ['raw-hosted', 'hosted', null],
      ['npm-proxy', 'proxy', 'https://registry.npmjs.org'],
    ]);
    expect(assets).toEqual([{ path: '/pkg1/-/pkg1-1.0.0.tgz', checksums: { sha1: 'e'.repeat(40), md5: 'f'.repeat(32) } }]);
  });

  it('names the URL path and the field path when a response fails its schema', async () => {
    // Prepare
    const bad = sqlComponent(2);
    (bad.assets as Record<string, unknown>[])[0]!.path = 42;
    const { url } = await serve((_req, res) => json(res, { items: [sqlComponent(1), bad], continuationToken: null }));
    const nexus = client({ baseUrl: url });

    // Act
    const error = await (async () => {
      for await (const _page of nexus.componentPages('raw-hosted')) void _page;
    })().catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(NexusResponseError);
    const message = (error as Error).message;
    expect(message).toContain('/service/rest/v1/components?repository=raw-hosted');
    expect(message).toContain('items[1].assets[0].path: expected string');
  });
});

// ───────────────────────────── retries ─────────────────────────────

describe('NexusClient retries', () => {
  it('retries a 500 and then succeeds', async () => {
    // Prepare
    const { url, requests } = await serve((_req, res, n) => {
      if (n === 1) json(res, { message: 'boom' }, 500);
      else json(res, { items: [], continuationToken: null });
    });
    const retries: string[] = [];
    const nexus = client({ baseUrl: url, onRetry: (info) => retries.push(`${info.reason} ${info.path}`) });

    // Act
    const pages = [];
    for await (const page of nexus.componentPages('raw-hosted')) pages.push(page);

    // Assess
    expect(pages).toEqual([{ items: [], continuationToken: null }]);
    expect(requests).toHaveLength(2);
    expect(retries).toEqual(['HTTP 500 /service/rest/v1/components?repository=raw-hosted']);
  });

  it('honours Retry-After: 1 on a 429', async () => {
    // Prepare
    const { url, requests } = await serve((_req, res, n) => {
      if (n === 1) {
        res.writeHead(429, { 'retry-after': '1' });
        res.end('slow down');
      } else json(res, []);
    });
    const nexus = client({ baseUrl: url });

    // Act
    const started = performance.now();
    const repositories = await nexus.listRepositories();
    const elapsed = performance.now() - started;

    // Assess
    expect(repositories).toEqual([]);
    expect(requests).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(900);
  });

  it('does not retry a 404 (exactly one request)', async () => {
    // Prepare
    const { url, requests } = await serve((_req, res) => json(res, [{ id: '*', message: 'Repository not found' }], 404));
    const nexus = client({ baseUrl: url });

    // Act
    const error = await nexus.getComponent('abc').catch((e: unknown) => e);

    // Assess
    expect(requests).toHaveLength(1);
    expect(error).toBeInstanceOf(NexusHttpError);
    expect((error as NexusHttpError).status).toBe(404);
    expect((error as NexusHttpError).messages).toEqual([{ id: '*', message: 'Repository not found' }]);
    expect((error as Error).message).toBe('GET /service/rest/v1/components/abc: HTTP 404 — Repository not found');
  });

  it('gives up after the retry budget with a NexusHttpError naming path and status', async () => {
    // Prepare
    const { url, requests } = await serve((_req, res) => {
      res.writeHead(503);
      res.end('Service Unavailable');
    });
    const nexus = client({ baseUrl: url, retry: { maxAttempts: 3, baseDelayMs: 1 } });

    // Act
    const error = await nexus.listRepositories().catch((e: unknown) => e);

    // Assess
    expect(requests).toHaveLength(3);
    expect(error).toBeInstanceOf(NexusHttpError);
    expect((error as NexusHttpError).status).toBe(503);
    expect((error as Error).message).toContain('GET /service/rest/v1/repositories: HTTP 503');
  });

  it('retries a request whose response headers time out', async () => {
    // Prepare: the first request is never answered.
    const { url, requests } = await serve((_req, res, n) => {
      if (n > 1) json(res, []);
    });
    const reasons: string[] = [];
    const nexus = client({ baseUrl: url, requestTimeoutMs: 200, onRetry: (i) => reasons.push(i.reason) });

    // Act
    const repositories = await nexus.listRepositories();

    // Assess
    expect(repositories).toEqual([]);
    expect(requests).toHaveLength(2);
    expect(reasons).toEqual(['UND_ERR_HEADERS_TIMEOUT']);
  });

  it('retries a refused connection and reports a NexusNetworkError when it persists', async () => {
    // Prepare
    const { url } = await serve((_req, res) => res.end());
    await new Promise<void>((resolve) => servers.pop()?.close(() => resolve()));
    const reasons: string[] = [];
    const nexus = client({ baseUrl: url, retry: { maxAttempts: 2 }, onRetry: (i) => reasons.push(i.reason) });

    // Act
    const error = await nexus.listRepositories().catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(NexusNetworkError);
    expect((error as NexusNetworkError).code).toBe('ECONNREFUSED');
    expect(reasons).toEqual(['ECONNREFUSED']);
  });
});

// ───────────────────────────── downloads ─────────────────────────────

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    body,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    }),
  );
  return Buffer.concat(chunks);
}

describe('NexusClient downloads', () => {
  const content = randomBytes(256 * 1024);

  it('retries a body cut short and gives consume the full, correct content on the 2nd attempt', async () => {
    // Prepare
    const { url, requests } = await serve((_req, res, n) => {
      res.writeHead(200, { 'content-length': String(content.length), 'content-type': 'application/octet-stream' });
      if (n === 1) res.write(content.subarray(0, 100_000), () => res.socket?.destroy());
      else res.end(content);
    });
    const nexus = client({ baseUrl: url });
    let calls = 0;

    // Act
    const received = await nexus.downloadAsset(
      'raw-hosted',
      'dir/a b.bin',
      { checksums: { sha256: hex('sha256', content) }, size: content.length },
      (body) => {
        calls++;
        return collect(body);
      },
    );

    // Assess
    expect(calls).toBe(2);
    expect(requests).toHaveLength(2);
    expect(requests[0]?.url).toBe('/repository/raw-hosted/dir/a%20b.bin');
    expect(received.equals(content)).toBe(true);
  });

  it('refuses content with a wrong checksum, without retrying, naming the path', async () => {
    // Prepare
    const { url, requests } = await serve((_req, res) => res.end(content));
    const nexus = client({ baseUrl: url });
    const wrong = hex('sha256', Buffer.from('something else'));

    // Act
    const error = await nexus
      .downloadAsset('raw-hosted', '/dir/a.bin', { checksums: { sha256: wrong } }, collect)
      .catch((e: unknown) => e);

    // Assess
    expect(requests).toHaveLength(1);
    expect(error).toBeInstanceOf(NexusChecksumError);
    expect((error as Error).message).toContain('raw-hosted/dir/a.bin');
    expect((error as Error).cause).toBeInstanceOf(ChecksumMismatchError);
  });

  it('verifies against sha1 when sha256 is absent', async () => {
    // Prepare
    const { url } = await serve((_req, res) => res.end(content));
    const nexus = client({ baseUrl: url });
    const wrongMd5 = 'f'.repeat(32);

    // Act
    const good = await nexus.downloadAsset(
      'npm-hosted',
      'p/-/p-1.0.0.tgz',
      { checksums: { sha1: hex('sha1', content).toUpperCase(), md5: wrongMd5 } },
      collect,
    );
    const bad = await nexus
      .downloadAsset('npm-hosted', 'p/-/p-1.0.0.tgz', { checksums: { sha1: 'a'.repeat(40), md5: hex('md5', content) } }, collect)
      .catch((e: unknown) => e);

    // Assess
    expect(good.equals(content)).toBe(true);
    expect(bad).toBeInstanceOf(NexusChecksumError);
    expect(((bad as Error).cause as ChecksumMismatchError).algorithm).toBe('sha1');
    expect(expectedChecksums({ sha1: 'AB', md5: 'cd' })).toEqual({ sha1: 'ab' });
    expect(expectedChecksums({ sha256: 'ef', sha1: 'ab' })).toEqual({ sha256: 'ef' });
    expect(() => expectedChecksums({})).toThrow(/no sha256, sha1, md5/);
  });
});

// ───────────────────────────── uploads ─────────────────────────────

interface ReceivedUpload {
  fields: Record<string, string>;
  files: Record<string, { filename: string; bytes: Buffer }>;
}

/** Parses a multipart upload with busboy; `onFileBytes` sees the file part's running byte count. */
function receiveUpload(req: IncomingMessage, onFileBytes?: (count: number) => void): Promise<ReceivedUpload> {
  return new Promise((resolve, reject) => {
    const received: ReceivedUpload = { fields: {}, files: {} };
    const parser = busboy({ headers: req.headers, limits: { fileSize: Number.MAX_SAFE_INTEGER } });
    parser.on('field', (name, value) => {
      received.fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      let count = 0;
      stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        count += chunk.length;
        onFileBytes?.(count);
      });
      stream.on('end', () => {
        received.files[name] = { filename: info.filename ?? '', bytes: Buffer.concat(chunks) };
      });
    });
    parser.on('close', () => resolve(received));
    parser.on('error', reject);
    req.pipe(parser);
  });
}

describe('NexusClient uploads', () => {
  it('sends the Nexus raw field names and streams the file part', async () => {
    // Prepare: the source holds back its second half until the server has seen 1 MiB of the
    // file part, which only happens if the client streams rather than buffers the whole file.
    const chunk = randomBytes(64 * 1024);
    const chunks = 64; // 4 MiB
    let serverSawFirstMiB!: () => void;
    const firstMiB = new Promise<void>((resolve) => (serverSawFirstMiB = resolve));
    let received: ReceivedUpload | undefined;
    const { url, requests } = await serve(async (req, res) => {
      received = await receiveUpload(req, (count) => {
        if (count >= 1024 * 1024) serverSawFirstMiB();
      });
      res.writeHead(204);
      res.end();
    });
    let opened = 0;
    const source = {
      size: chunk.length * chunks,
      open: async () => {
        opened++;
        return Readable.from(
          (async function* () {
            for (let i = 0; i < chunks; i++) {
              if (i === chunks / 2) await firstMiB;
              yield chunk;
            }
          })(),
        );
      },
    };
    const nexus = client({ baseUrl: url, username: 'ferry', password: 'pw-1234' });

    // Act
    await nexus.uploadRaw('raw-hosted', 'org/example/1.0/widget.bin', source);

    // Assess
    expect(opened).toBe(1);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.url).toBe('/service/rest/v1/components?repository=raw-hosted');
    expect(requests[0]?.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from('ferry:pw-1234').toString('base64')}`);
    expect(received?.fields).toEqual({ 'raw.directory': '/org/example/1.0', 'raw.asset1.filename': 'widget.bin' });
    expect(Object.keys(received?.files ?? {})).toEqual(['raw.asset1']);
    expect(received?.files['raw.asset1']?.filename).toBe('widget.bin');
    expect(received?.files['raw.asset1']?.bytes.equals(Buffer.concat(Array(chunks).fill(chunk)))).toBe(true);
  });

  it('uses "/" as the directory for a root-level asset and re-opens the content when retrying a 503', async () => {
    // Prepare
    const bytes = Buffer.from('hello, isolated world\n');
    const uploads: ReceivedUpload[] = [];
    const { url, requests } = await serve(async (req, res, n) => {
      uploads.push(await receiveUpload(req));
      res.writeHead(n === 1 ? 503 : 204);
      res.end();
    });
    let opened = 0;
    const nexus = client({ baseUrl: url });

    // Act
    await nexus.uploadRaw('raw-hosted', '/readme.txt', {
      size: bytes.length,
      open: async () => {
        opened++;
        return Readable.from([bytes]);
      },
    });

    // Assess
    expect(requests).toHaveLength(2);
    expect(opened).toBe(2);
    expect(uploads[1]?.fields).toEqual({ 'raw.directory': '/', 'raw.asset1.filename': 'readme.txt' });
    expect(uploads[1]?.files['raw.asset1']?.bytes.equals(bytes)).toBe(true);
  });

  it('does not retry an upload Nexus rejects with 400, and reports its messages', async () => {
    // Prepare
    const { url, requests } = await serve(async (req, res) => {
      await receiveUpload(req);
      json(res, [{ id: '*', message: 'Repository does not allow updating assets: raw-hosted' }], 400);
    });
    const nexus = client({ baseUrl: url });

    // Act
    const error = await nexus
      .uploadRaw('raw-hosted', '/a.txt', { size: 1, open: async () => Readable.from([Buffer.from('x')]) })
      .catch((e: unknown) => e);

    // Assess
    expect(requests).toHaveLength(1);
    expect(error).toBeInstanceOf(NexusHttpError);
    expect((error as Error).message).toBe(
      'POST /service/rest/v1/components?repository=raw-hosted: HTTP 400 — Repository does not allow updating assets: raw-hosted',
    );
  });
});

// ───────────────────────────── credentials ─────────────────────────────

describe('NexusClient credentials', () => {
  it('never puts the password (or the auth header) in any error message', async () => {
    // Prepare: a server that echoes the Authorization header back in every failure.
    const password = 'Sup3r-S3cret-Pa55';
    const token = Buffer.from(`ferry:${password}`).toString('base64');
    const content = Buffer.from('payload');
    const { url } = await serve((req, res) => {
      const echo = `auth was ${req.headers.authorization ?? ''} / ${Buffer.from((req.headers.authorization ?? '').slice(6), 'base64').toString()}`;
      if (req.url?.startsWith('/repository/')) {
        res.end(content);
      } else if (req.url?.includes('/repositories')) {
        json(res, [{ name: 42, echo }]);
      } else if (req.url?.includes('/components/')) {
        json(res, [{ id: '*', message: echo }], 404);
      } else {
        res.writeHead(503);
        res.end(echo);
      }
    });
    const nexus = client({ baseUrl: url, username: 'ferry', password, retry: { maxAttempts: 2 } });
    const viaUrl = client({ baseUrl: url.replace('http://', `http://ferry:${password}@`) + '/', retry: { maxAttempts: 2 } });
    const refused = client({ baseUrl: 'http://127.0.0.1:1', username: 'ferry', password, retry: { maxAttempts: 1 } });

    // Act
    const errors = await Promise.all([
      nexus.getComponent('x').catch((e: unknown) => e),
      nexus.listRepositories().catch((e: unknown) => e),
      nexus.uploadRaw('r', '/a', { size: 1, open: async () => Readable.from([Buffer.from('a')]) }).catch((e: unknown) => e),
      nexus.downloadAsset('r', '/a', { checksums: { sha1: 'a'.repeat(40) } }, collect).catch((e: unknown) => e),
      viaUrl.getComponent('x').catch((e: unknown) => e),
      refused.listRepositories().catch((e: unknown) => e),
    ]);

    // Assess
    const texts = errors.map((error) => {
      expect(error).toBeInstanceOf(Error);
      const parts: string[] = [];
      for (let e: unknown = error; e instanceof Error; e = e.cause) parts.push(e.message, String(e), JSON.stringify(e));
      return parts.join('\n');
    });
    expect(errors.map((e) => (e as Error).name)).toEqual([
      'NexusHttpError',
      'NexusResponseError',
      'NexusHttpError',
      'NexusChecksumError',
      'NexusHttpError',
      'NexusNetworkError',
    ]);
    expect(texts[0]).toContain('auth was Basic *** / ferry:***');
    expect(texts[4]).toContain('auth was Basic *** / ferry:***');
    for (const text of texts) {
      expect(text).not.toContain(password);
      expect(text).not.toContain(token);
    }
  });
});
