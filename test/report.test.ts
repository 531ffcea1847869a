/**
 * The bundle report's renderer, a pure function from a manifest (and the image documents a
 * reader had) to one HTML page: what it says about each kind of entry, totals, blobs
 * required from earlier bundles, supply-chain artifacts, whether anything was verified, and
 * that text from the source always renders as text.
 */
import { describe, expect, it } from 'vitest';
import { validateManifest, type ImageBundleEntry } from '../shared/bundle/index.ts';
import { escapeHtml, ImageDocuments, referrerKind, renderReport, reportModel, type ReportInput, type ReportVerification } from '../shared/bundle/report/index.ts';
import { documentsOf, reportFixture } from './support/report-fixtures.ts';

const UNVERIFIED: ReportVerification = { status: 'unverified', keyId: `sha256:${'1'.repeat(64)}`, algorithm: 'ed25519' };

function input(fixture = reportFixture(), overrides: Partial<ReportInput> = {}): ReportInput {
  return { manifest: fixture.manifest, manifestDigest: `sha256:${'9'.repeat(64)}`, bundle: { name: 'corp-nexus-00000007.tar', size: 123_456 }, verification: UNVERIFIED, documents: documentsOf(fixture), ...overrides };
}

/** The page's text, roughly as a browser shows it: tags dropped, entities decoded. */
const textOf = (page: string) =>
  page
    .replace(/<style>[\s\S]*?<\/style>/, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');

describe('the report renderer', () => {
  it('is given a manifest the bundle format accepts', () => {
    // Assess: the fixture is a valid manifest, so the renderer is tested on what readers really get
    expect(() => validateManifest(reportFixture().manifest, 'fixture')).not.toThrow();
  });

  it.each([
    ['a raw path', { rawPath: '/evil/<script>alert(1)</script>.bin' }, '/evil/<script>alert(1)</script>.bin'],
    ['a component name', { component: `widget"><img src=x onerror="alert(2)">` }, `widget"><img src=x onerror="alert(2)">`],
    ['an npm dist-tag', { distTag: `'><iframe src=//evil.example>` }, `'><iframe src=//evil.example>`],
  ])('renders %s from the source as text, never as markup', (_what, options, hostile) => {
    // Act
    const page = renderReport(input(reportFixture(options)));

    // Assess
    expect(page).toContain(escapeHtml(hostile));
    expect(textOf(page)).toContain(hostile);
    expect(page).not.toMatch(/<script|<img|<iframe|onerror="/i);
  });

  it('renders a hostile bundle file name as text, in the title too', () => {
    // Act
    const page = renderReport(input(undefined, { bundle: { name: '</title><script>x()</script>.tar' } }));

    // Assess
    expect(page).toContain('<title>Ferry bundle &lt;/title&gt;&lt;script&gt;x()&lt;/script&gt;.tar</title>');
    expect(page).not.toMatch(/<script/i);
  });

  it('is self-contained: inline CSS, no scripts, nothing fetched, and a policy that forbids fetching', () => {
    // Act
    const page = renderReport(input());

    // Assess
    expect(page.startsWith('<!doctype html>')).toBe(true);
    expect(page).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`);
    expect(page).not.toMatch(/<script|<link|<img|src=|href=|@import|url\(/i);
  });

  it.each<[string, ReportVerification, string[], string[]]>([
    ['unverified', UNVERIFIED, ['NOT verified.', 'were not checked', 'ferry report <bundle> -k <public key>'], ['Verified.']],
    ['unverified, unsigned', { status: 'unverified', keyId: undefined, algorithm: undefined }, ['NOT verified.', '(none found)', 'no signature found'], ['Verified.']],
    ['sealed', { status: 'sealed', keyId: `sha256:${'2'.repeat(64)}`, algorithm: 'ecdsa-p256-sha256' }, ['NOT verified.', 'Written when the bundle was sealed', 'ecdsa-p256-sha256'], ['Verified.']],
    ['verified', { status: 'verified', keyId: `sha256:${'3'.repeat(64)}`, trustedBy: '--public-key export.pub' }, ['Verified.', `sha256:${'3'.repeat(64)}`, '--public-key export.pub', 'every blob in the bundle matched its digest'], ['NOT verified']],
  ])('says plainly whether the bundle was verified (%s)', (_status, verification, says, never) => {
    // Act
    const text = textOf(renderReport(input(undefined, { verification })));

    // Assess
    for (const s of says) expect(text).toContain(s);
    for (const s of never) expect(text).not.toContain(s);
  });

  it('names the bundle: source, sequence, previous digest, signer, created, digest and size', () => {
    // Act
    const text = textOf(renderReport(input()));

    // Assess
    for (const s of ['corp-nexus', 'sequence 7', `sha256:${'9'.repeat(64)}`, 'created 2026-11-23T19:00:00.000Z', `sha256:${'1'.repeat(64)}`, '120.6 KiB (123,456 bytes)', 'ferry.bundle.v2']) expect(text).toContain(s);
    expect(text).toMatch(/previous bundle sha256:[0-9a-f]{64} \(sequence 6\)/);
  });

  it('says a first bundle has no previous one', () => {
    // Act
    const text = textOf(renderReport(input(reportFixture({ bundleSequence: 1 }))));

    // Assess
    expect(text).toContain('none: the first bundle of this chain');
  });

  it('counts entries, repositories and bytes: in the bundle, required, and the distinct content entries need', () => {
    // Prepare
    const fixture = reportFixture();
    const { included, required } = fixture.manifest.blobs;
    const resent = included.find((b) => b.digest === fixture.ids.resent)!;

    // Act
    const model = reportModel(input(fixture));

    // Assess
    expect(model.totals).toEqual({
      entries: 6,
      byKind: [['raw', 1], ['image', 2], ['maven2', 1], ['npm', 1], ['pypi', 1]],
      repositories: 5,
      included: { count: included.length, bytes: included.reduce((n, b) => n + b.size, 0) },
      required: { count: 3, bytes: required.reduce((n, b) => n + b.size, 0) },
      content: included.reduce((n, b) => n + b.size, 0) - resent.size + required.reduce((n, b) => n + b.size, 0),
    });
    expect(model.resent).toEqual([resent]);
  });

  it('lists the blobs required from earlier bundles with the bundle that shipped each and the entries needing it', () => {
    // Prepare
    const fixture = reportFixture();

    // Act
    const model = reportModel(input(fixture));
    const text = textOf(renderReport(input(fixture)));

    // Assess
    expect(model.required.map((r) => [r.digest, r.shippedIn, r.neededBy])).toEqual([
      [fixture.ids.baseManifest, 3, ['#3 team/base:2.0']],
      [fixture.ids.baseLayer, 3, ['#3 team/base:2.0']],
      [fixture.ids.npm, 0, ['#5 acme:lib:2.1.0']],
    ]);
    const rows = model.groups.flatMap((g) => g.rows);
    expect(rows.map((r) => r.carried)).toEqual([{ how: 'included' }, { how: 'included' }, { how: 'required', from: [3] }, { how: 'included' }, { how: 'required', from: [0] }, { how: 'included' }]);
    expect(text).toContain('another chain (the far side holds it, per a receipt)');
    expect(text).toContain('required from bundle 3');
  });

  it('groups entries by format and repository, source → target, with each kind’s own details', () => {
    // Act
    const model = reportModel(input());
    const text = textOf(renderReport(input()));

    // Assess
    expect(model.groups.map((g) => [g.kind, g.sourceRepository, g.targetRepository, g.rows.length])).toEqual([
      ['raw', 'raw-a', 'raw-mirror', 1],
      ['image', 'docker-hosted', 'docker-hosted', 2],
      ['maven2', 'maven-releases', 'maven-releases', 1],
      ['npm', 'npm-hosted', 'npm-hosted', 1],
      ['pypi', 'pypi-hosted', 'pypi-hosted', 1],
    ]);
    for (const s of ['raw-a → raw-mirror', 'raw-mirror/dir/app.bin', 'classifier sources', 'dist-tags latest → 2.1.0, next → 3.0.0-beta.1', 'sha512 ' + 'e'.repeat(128), 'Docker image manifest', 'OCI index']) {
      expect(text).toContain(s);
    }
  });

  it('shows entries in their format’s words when given them', () => {
    // Act
    const text = textOf(renderReport(input(undefined, { coordinates: (e) => (e.kind === 'maven2' ? 'org.example:widget:1.0.0:sources@jar' : e.kind) })));

    // Assess
    expect(text).toContain('org.example:widget:1.0.0:sources@jar');
  });

  it('reads platforms from an index, or from a single image’s config, and says unknown without them', () => {
    // Prepare
    const fixture = reportFixture();

    // Act
    const withDocuments = reportModel(input(fixture)).groups[1]!.rows.map((r) => Object.fromEntries(r.details).platforms);
    const without = reportModel(input(fixture, { documents: undefined })).groups[1]!.rows.map((r) => Object.fromEntries(r.details).platforms);

    // Assess
    expect(withDocuments).toEqual(['linux/amd64, linux/arm64/v8', 'unknown (its manifest is not in this bundle)']);
    expect(without).toEqual(['unknown (its manifest is not in this bundle)', 'unknown (its manifest is not in this bundle)']);
  });

  it('takes no document whose bytes are not its digest: the platforms stay unknown', () => {
    // Prepare
    const fixture = reportFixture();
    const documents = new ImageDocuments(fixture.manifest);
    const index = fixture.documents.get(fixture.ids.index)!;

    // Act
    documents.add(fixture.ids.index, Buffer.from(index.toString('utf8').replace('arm64', 'ppc64')));

    // Assess
    expect(documents.missing()).toContain(fixture.ids.index);
    expect(documents.platforms(fixture.manifest.entries[1] as ImageBundleEntry)).toBeUndefined();
  });

  it('lists each image’s signatures, SBOMs and attestations, and flags an image that carries none', () => {
    // Prepare
    const fixture = reportFixture();

    // Act
    const model = reportModel(input(fixture));
    const text = textOf(renderReport(input(fixture)));

    // Assess
    expect(model.supplyChain.map((row) => [row.image, row.items.map((i) => [i.kind, i.digest])])).toEqual([
      ['docker-hosted/team/app:1.0.0', [['signature', fixture.ids.sig], ['SBOM', fixture.ids.sbom], ['attestation', fixture.ids.attestation]]],
      ['docker-hosted/team/base:2.0', []],
    ]);
    expect(text).toContain(`sha256-${fixture.ids.index.slice(7)}.sig`);
    expect(text).toContain('application/spdx+json');
    expect(text).toContain(`BuildKit attestation manifest`);
    expect(text).toContain(`about ${fixture.ids.amd64}`);
    expect(text).toContain('no signature, SBOM or attestation');
  });

  it.each([
    [`sha256-${'a'.repeat(64)}.sig`, 'application/vnd.oci.image.manifest.v1+json', undefined, 'signature'],
    [`sha256-${'a'.repeat(64)}.att`, 'application/vnd.oci.image.manifest.v1+json', ['https://spdx.dev/Document'], 'attestation'],
    [`sha256-${'a'.repeat(64)}.sbom`, 'application/vnd.oci.image.manifest.v1+json', undefined, 'SBOM'],
    [`sha256-${'a'.repeat(64)}`, 'application/vnd.oci.image.index.v1+json', undefined, 'referrers index'],
    [undefined, 'application/vnd.oci.image.manifest.v1+json', ['application/vnd.cyclonedx+json'], 'SBOM'],
    [undefined, 'application/vnd.oci.image.manifest.v1+json', ['application/vnd.in-toto+json', 'https://slsa.dev/provenance/v1'], 'attestation'],
    [undefined, 'application/vnd.oci.image.manifest.v1+json', ['application/vnd.cncf.notary.signature'], 'signature'],
    [undefined, 'application/vnd.oci.image.manifest.v1+json', ['application/vnd.example.thing'], 'artifact'],
    [undefined, 'application/vnd.oci.image.manifest.v1+json', undefined, 'artifact'],
  ])('classifies the referrer %s (%s, %j) as %s', (tag, mediaType, types, kind) => {
    // Assess
    expect(referrerKind(tag, mediaType, types)).toBe(kind);
  });

  it('makes the same bytes from the same input, so a report can be made again', () => {
    // Assess
    expect(renderReport(input())).toBe(renderReport(input()));
  });
});
