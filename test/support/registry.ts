/**
 * Real CNCF distribution registries (Debian's docker-registry 2.8) for tests: one process
 * per call on 127.0.0.1, filesystem storage in a temp dir, optionally behind htpasswd
 * basic auth or a Docker token flow served by a small in-process token issuer.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate, createPrivateKey, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Agent, fetch as undiciFetch } from 'undici';

const run = promisify(execFile);

export const REGISTRY_BIN = '/usr/bin/docker-registry';
const INSTALL_HINT = "run 'bash .ci/install-system-deps.sh' (apt-get install docker-registry skopeo apache2-utils)";

export interface TestUser {
  username: string;
  password: string;
}

export interface TestRegistry {
  /** `http://127.0.0.1:<port>` (`https://` with `tls`) */
  url: string;
  /** With `tls`: the PEM file of the private CA that signed the registry's certificate. */
  caFile?: string;
  /** `127.0.0.1:<port>`, as skopeo and docker name it. */
  host: string;
  storageDir: string;
  /** Hits on the token issuer (token auth only); live. */
  readonly tokenRequests?: number;
  close(): Promise<void>;
}

export interface StartRegistryOptions {
  auth?: 'none' | 'basic' | 'token';
  users?: TestUser[];
  /** Serve HTTPS with a certificate for 127.0.0.1 from a fresh private CA (`caFile`). */
  tls?: boolean;
}

export const DEFAULT_USERS: TestUser[] = [{ username: 'ferry', password: 'ferry-test-secret-1' }];

/** Throws the install command when a tool the registry tests need is missing. */
export function requireTools(...tools: ('docker-registry' | 'skopeo' | 'htpasswd' | 'openssl')[]): void {
  for (const tool of tools) {
    const path = tool === 'docker-registry' ? REGISTRY_BIN : `/usr/bin/${tool}`;
    if (!existsSync(path)) throw new Error(`missing ${tool}: ${INSTALL_HINT}`);
  }
}

export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const auth = options.auth ?? 'none';
  const users = options.users ?? DEFAULT_USERS;
  requireTools('docker-registry', 'skopeo', 'htpasswd', 'openssl');
  const dir = await mkdtemp(join(tmpdir(), 'ferry-registry-'));
  const storageDir = join(dir, 'storage');
  const cleanups: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
  let issuer: TokenIssuer | undefined;
  try {
    let authConfig = '';
    if (auth === 'basic') {
      const lines: string[] = [];
      for (const user of users) {
        const { stdout } = await run('/usr/bin/htpasswd', ['-Bbn', user.username, user.password]);
        lines.push(stdout.trim());
      }
      await writeFile(join(dir, 'htpasswd'), `${lines.join('\n')}\n`);
      authConfig = `auth:\n  htpasswd:\n    realm: ferry-test\n    path: ${join(dir, 'htpasswd')}\n`;
    } else if (auth === 'token') {
      issuer = await startTokenIssuer(dir, users);
      const started = issuer;
      cleanups.push(() => started.close());
      authConfig = [
        'auth:',
        '  token:',
        `    realm: ${issuer.url}/token`,
        `    service: ${issuer.service}`,
        `    issuer: ${issuer.issuer}`,
        `    rootcertbundle: ${issuer.certFile}`,
        '',
      ].join('\n');
    }
    const tls = options.tls ? await privateCa(dir) : undefined;
    const tlsConfig = tls ? `  tls:\n    certificate: ${tls.certFile}\n    key: ${tls.keyFile}\n` : '';
    for (let tries = 1; ; tries++) {
      const port = await freePort();
      const config = [
        'version: 0.1',
        'log:',
        '  level: warn',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${storageDir}`,
        '  delete:',
        '    enabled: true',
        '  maintenance:',
        '    uploadpurging:',
        '      enabled: false',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        `  secret: ${randomBytes(16).toString('hex')}`,
        tlsConfig,
        'health:',
        '  storagedriver:',
        '    enabled: false',
        authConfig,
      ].join('\n');
      const configFile = join(dir, 'config.yml');
      await writeFile(configFile, config);
      const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('REGISTRY_')));
      const child = spawn(REGISTRY_BIN, ['serve', configFile], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString('utf8')).slice(-4000);
      });
      const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
      const up = await waitUntilUp(url, child, tls?.caFile);
      if (!up) {
        await stop(child);
        // Another process may have taken the port between probe and bind: try another.
        if (tries < 3 && /address already in use/.test(stderr)) continue;
        throw new Error(`docker-registry did not start on ${url}: ${stderr.trim() || 'no output'}`);
      }
      cleanups.unshift(() => stop(child));
      const registry: TestRegistry = {
        url,
        ...(tls ? { caFile: tls.caFile } : {}),
        host: `127.0.0.1:${port}`,
        storageDir,
        close: async () => {
          for (const cleanup of cleanups.splice(0)) await cleanup();
        },
      };
      if (issuer !== undefined) {
        const counted = issuer;
        Object.defineProperty(registry, 'tokenRequests', { get: () => counted.requests, enumerable: true });
      }
      return registry;
    }
  } catch (error) {
    for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
    throw error;
  }
}

async function waitUntilUp(url: string, child: ChildProcess, caFile?: string): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  const dispatcher = caFile === undefined ? undefined : new Agent({ connect: { ca: await readFile(caFile, 'utf8') } });
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) return false;
      try {
        const response = await undiciFetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000), ...(dispatcher ? { dispatcher } : {}) });
        await response.arrayBuffer();
        if (response.status === 200 || response.status === 401) return true;
      } catch {
        // Not listening yet.
      }
      await sleep(50);
    }
    return false;
  } finally {
    await dispatcher?.close();
  }
}

/** A private CA and a server certificate for 127.0.0.1 signed by it (EC P-256, two days). */
export async function privateCa(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const caFile = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const ext = join(dir, 'server.ext');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('/usr/bin/openssl', ['req', '-x509', ...ec, '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=ferry-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('/usr/bin/openssl', ['req', ...ec, '-keyout', keyFile, '-out', csr, '-subj', '/CN=127.0.0.1']);
  await writeFile(ext, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  await run('/usr/bin/openssl', ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext]);
  return { caFile, certFile, keyFile };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

// ───────────────────────────── token issuer ─────────────────────────────

interface TokenIssuer {
  url: string;
  service: string;
  issuer: string;
  certFile: string;
  readonly requests: number;
  close(): Promise<void>;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/**
 * The Docker token flow's auth server: checks basic credentials, then grants exactly the
 * scopes requested as an ES256 JWT whose header carries the certificate (`x5c`) that the
 * registry's `rootcertbundle` trusts.
 */
async function startTokenIssuer(dir: string, users: TestUser[]): Promise<TokenIssuer> {
  const keyFile = join(dir, 'token-key.pem');
  const certFile = join(dir, 'token-cert.pem');
  await run('/usr/bin/openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=ferry-test-token-issuer',
  ]);
  const key: KeyObject = createPrivateKey(await readFile(keyFile));
  const cert = new X509Certificate(await readFile(certFile));
  const x5c = [cert.raw.toString('base64')];
  const service = 'ferry-test-registry';
  const issuerName = 'ferry-test-issuer';
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    const url = new URL(req.url ?? '/', 'http://issuer');
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    const [scheme, encoded] = (req.headers.authorization ?? '').split(' ');
    const [username, ...rest] = Buffer.from(encoded ?? '', 'base64').toString('utf8').split(':');
    const password = rest.join(':');
    const user = scheme === 'Basic' ? users.find((u) => u.username === username && u.password === password) : undefined;
    if (user === undefined) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="ferry-test-issuer"' });
      res.end(JSON.stringify({ details: 'credentials required' }));
      return;
    }
    const access = url.searchParams.getAll('scope').flatMap((scope) => {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first <= 0 || last <= first) return [];
      return [{ type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',') }];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c };
    const claims = {
      iss: issuerName,
      sub: user.username,
      aud: url.searchParams.get('service') ?? service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${input}.${base64url(signature)}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    service,
    issuer: issuerName,
    certFile,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
