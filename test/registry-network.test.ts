/**
 * The registry client on the networks users have: a registry behind a private CA
 * (`caFile`), and an outbound proxy named by HTTPS_PROXY / HTTP_PROXY with NO_PROXY
 * exceptions. Against a real docker-registry serving TLS on 127.0.0.1 and a small CONNECT
 * proxy that records what it carries.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../shared/adapters/registry/index.ts';
import { makeImage, makeLayer, pushImage } from './support/images.ts';
import { useProxy, withProxyEnv } from './support/proxy.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';

let tlsRegistry: TestRegistry;
let plainRegistry: TestRegistry;
const clients: RegistryClient[] = [];
const client = (options: ConstructorParameters<typeof RegistryClient>[0]) => {
  const made = new RegistryClient({ retry: { maxAttempts: 1 }, ...options });
  clients.push(made);
  return made;
};

beforeAll(async () => {
  [tlsRegistry, plainRegistry] = await Promise.all([startRegistry({ tls: true }), startRegistry()]);
}, 60_000);
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await Promise.all([tlsRegistry?.close(), plainRegistry?.close()]);
});

describe('a registry behind a private CA', () => {
  it('is refused without caFile, naming the request and the certificate problem', async () => {
    // Prepare
    const c = await withProxyEnv({}, async () => client({ baseUrl: tlsRegistry.url }));
    // Act
    const error = await c.ping().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    // Assess
    expect(error).toBeInstanceOf(Error);
    const said = `${error?.message} ${(error?.cause as Error | undefined)?.message ?? ''}`;
    expect(said).toContain('/v2/');
    expect(said).toMatch(/certificate/i);
  });

  it('is trusted with caFile: an image pushed and pulled back byte for byte', async () => {
    // Prepare
    const c = await withProxyEnv({}, async () => client({ baseUrl: tlsRegistry.url, caFile: tlsRegistry.caFile! }));
    const image = makeImage({ layers: [await makeLayer({ 'etc/tls': 'private ca\n' })] });
    // Act
    await c.ping();
    await pushImage(c, 'tls/app', '1.0', image);
    const pulled = await c.getManifest('tls/app', '1.0');
    // Assess
    expect(pulled.digest).toBe(image.manifest.digest);
    expect(pulled.bytes.equals(image.manifest.bytes)).toBe(true);
  });
});

describe('an outbound proxy from the environment', () => {
  const proxy = useProxy();

  it('tunnels https registry traffic through HTTPS_PROXY (with the private CA inside the tunnel)', async () => {
    // Prepare
    const environment = { HTTPS_PROXY: proxy.url };
    // Act
    await withProxyEnv(environment, async () => client({ baseUrl: tlsRegistry.url, caFile: tlsRegistry.caFile! }).ping());
    // Assess
    expect(proxy.seen).toContain(`CONNECT ${tlsRegistry.host}`);
  });

  it('sends plain-http registry traffic through HTTP_PROXY', async () => {
    // Prepare
    const environment = { HTTP_PROXY: proxy.url };
    // Act
    await withProxyEnv(environment, async () => client({ baseUrl: plainRegistry.url }).ping());
    // Assess
    expect(proxy.seen.some((s) => s === `CONNECT ${plainRegistry.host}` || s === `GET ${plainRegistry.url}/v2/`)).toBe(true);
  });

  it('goes direct to a host NO_PROXY names', async () => {
    // Prepare: the variables stay set while the client works (undici reads NO_PROXY per request)
    const environment = { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' };
    // Act
    await withProxyEnv(environment, async () => {
      await client({ baseUrl: tlsRegistry.url, caFile: tlsRegistry.caFile! }).ping();
      await client({ baseUrl: plainRegistry.url }).ping();
    });
    // Assess
    expect(proxy.seen).toEqual([]);
  });
});
