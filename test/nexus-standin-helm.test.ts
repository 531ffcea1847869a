/**
 * The stand-in's helm format, over HTTP: the upload's file-name rule and Chart.yaml-derived
 * path, its errors, the listing's shape (md5 and sha1 only), PUT, and index.yaml rebuilt a
 * moment after an upload rather than at once.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tgz } from './nexus-standin/archives.ts';
import { HELM_INDEX_DELAY_MS } from './nexus-standin/formats/helm.ts';
import type { NexusStandin } from './nexus-standin/index.ts';
import { standinsPerTest } from './support/standins.ts';

const start = standinsPerTest({
  repositories: [
    { name: 'helm-hosted', format: 'helm', type: 'hosted' },
    { name: 'helm-once', format: 'helm', type: 'hosted', writePolicy: 'allow_once' },
    { name: 'helm-proxy', format: 'helm', type: 'proxy' },
  ],
});

const chart = (name: string, version: string, extra = '') =>
  tgz([{ name: `${name}/Chart.yaml`, content: `apiVersion: v2\nname: ${name}\nversion: ${version}\n${extra}` }]);

async function upload(standin: NexusStandin, repository: string, filename: string, content: Buffer, field = 'helm.asset'): Promise<{ status: number; body: string }> {
  const form = new FormData();
  form.append(field, new Blob([new Uint8Array(content)]), filename);
  const res = await fetch(`${standin.url}/service/rest/v1/components?repository=${repository}`, { method: 'POST', body: form });
  return { status: res.status, body: await res.text() };
}

async function index(standin: NexusStandin, repository = 'helm-hosted'): Promise<Record<string, { version: string; digest: string; urls: string[] }[]>> {
  const res = await fetch(`${standin.url}/repository/${repository}/index.yaml`);
  expect(res.status).toBe(200);
  return (parse(await res.text()) as { entries: Record<string, { version: string; digest: string; urls: string[] }[]> }).entries;
}

describe('nexus stand-in: helm', () => {
  it('stores an uploaded chart at /<name>-<version>.tgz from its Chart.yaml, whatever the file was called', async () => {
    // Prepare
    const standin = await start();
    const archive = await chart('web', '1.2.3');

    // Act
    const res = await upload(standin, 'helm-hosted', 'anything.tgz', archive);

    // Assess
    expect(res.status).toBe(204);
    expect(standin.assetPaths('helm-hosted')).toEqual(['/web-1.2.3.tgz']);
  });

  it('lists a chart with md5 and sha1 only and a helm block, as Nexus does', async () => {
    // Prepare
    const standin = await start();
    await upload(standin, 'helm-hosted', 'web-1.0.0.tgz', await chart('web', '1.0.0'));

    // Act
    const page = (await (await fetch(`${standin.url}/service/rest/v1/components?repository=helm-hosted`)).json()) as {
      items: { name: string; version: string; assets: Record<string, unknown>[] }[];
    };

    // Assess
    const [component] = page.items;
    expect(component).toMatchObject({ name: 'web', version: '1.0.0' });
    expect(Object.keys(component!.assets[0]!['checksum'] as object).sort()).toEqual(['md5', 'sha1']);
    expect(component!.assets[0]!['helm']).toMatchObject({ name: 'web', version: '1.0.0', asset_kind: 'HELM_PACKAGE' });
  });

  it.each([
    ['a file name not ending in .tgz or .tgz.prov', 'web-1.0.0.tar.gz', 'helm.asset', 'Unsupported extension. Extension must be .tgz or .tgz.prov'],
    ['an unknown field', 'web-1.0.0.tgz', 'helm.chart', 'Unknown field name: helm.chart'],
  ])('refuses %s with 400 and Nexus message', async (_what, filename, field, message) => {
    // Prepare
    const standin = await start();

    // Act
    const res = await upload(standin, 'helm-hosted', filename, await chart('web', '1.0.0'), field);

    // Assess
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual([{ id: '*', message }]);
    expect(standin.assetPaths('helm-hosted')).toEqual([]);
  });

  it('refuses a chart whose Chart.yaml lacks a version', async () => {
    // Prepare
    const standin = await start();
    const archive = await tgz([{ name: 'web/Chart.yaml', content: 'apiVersion: v2\nname: web\n' }]);

    // Act
    const res = await upload(standin, 'helm-hosted', 'web.tgz', archive);

    // Assess
    expect(res.status).toBe(400);
    expect(res.body).toContain('Metadata is missing the version attribute');
  });

  it('refuses a second upload of a chart version on allow_once, and any upload to a proxy', async () => {
    // Prepare
    const standin = await start();
    expect((await upload(standin, 'helm-once', 'web-1.0.0.tgz', await chart('web', '1.0.0'))).status).toBe(204);

    // Act
    const again = await upload(standin, 'helm-once', 'web-1.0.0.tgz', await chart('web', '1.0.0', 'description: rebuilt\n'));
    const proxy = await upload(standin, 'helm-proxy', 'web-1.0.0.tgz', await chart('web', '1.0.0'));

    // Assess
    expect(again.status).toBe(400);
    expect(again.body).toContain('helm-once/web-1.0.0.tgz cannot be updated');
    expect(proxy.status).toBe(400);
    expect(proxy.body).toContain("must be 'hosted'");
  });

  it('takes PUT /repository/R/<file>.tgz with 201', async () => {
    // Prepare
    const standin = await start();

    // Act
    const res = await fetch(`${standin.url}/repository/helm-hosted/api-0.1.0.tgz`, { method: 'PUT', body: new Uint8Array(await chart('api', '0.1.0')) });

    // Assess
    expect(res.status).toBe(201);
    expect(standin.assetPaths('helm-hosted')).toEqual(['/api-0.1.0.tgz']);
  });

  it('rebuilds index.yaml a moment after an upload, not at once, with the sha256 digest and a relative URL', async () => {
    // Prepare
    const standin = await start();
    const archive = await chart('web', '1.0.0');

    // Act
    await upload(standin, 'helm-hosted', 'web-1.0.0.tgz', archive);
    const atOnce = await index(standin);
    await sleep(HELM_INDEX_DELAY_MS + 500);
    const later = await index(standin);

    // Assess
    expect(atOnce).toEqual({});
    expect(later['web']).toEqual([
      expect.objectContaining({ version: '1.0.0', digest: createHash('sha256').update(archive).digest('hex'), urls: ['web-1.0.0.tgz'] }),
    ]);
  });
});
