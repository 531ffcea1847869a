/**
 * The report as one self-contained HTML page: inline CSS, no scripts, no fonts, images or
 * anything else fetched (a Content-Security-Policy forbids it, so the page stays inert even
 * opened from a share). Every value from the bundle goes through {@link html}'s escaping.
 * Deterministic: the same model gives the same bytes, so `ferry report` makes it again.
 */
import { html, trusted, type SafeHtml } from './html.ts';
import { reportModel, type Carried, type EntryGroup, type ReportInput, type ReportModel, type ReportVerification } from './model.ts';
import { REPORT_CSS } from './style.ts';
import { formatBytes, groupDigits } from '../../units.ts';

/** The HTML report of a bundle (see {@link reportModel} for what goes in). */
export function renderReport(input: ReportInput): string {
  return renderModel(reportModel(input));
}

export function renderModel(model: ReportModel): string {
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ferry bundle ${model.bundleName}</title>
<style>${trusted(REPORT_CSS)}</style>
</head>
<body>
<header>
<h1>Ferry bundle <code>${model.bundleName}</code></h1>
<p class="lede">${model.sourceId} · sequence ${model.sequence} · created ${model.createdAt} · ${count(model.totals.entries, 'entry', 'entries')}</p>
${banner(model.verification)}
</header>
${bundleSection(model)}
${totalsSection(model)}
${entriesSection(model)}
${supplyChainSection(model)}
${requiredSection(model)}
${resentSection(model)}
${partsSection(model)}
<footer>
<p>This page is not part of the signed bundle: it is derived from the bundle's manifest (<code>ferry/manifest.json</code>) and can be made again at any time with <code>ferry report ${model.bundleName} -k &lt;public key&gt;</code>. Only the bundle's own signature, checked by <code>ferry verify</code> or <code>ferry import</code>, vouches for its content.</p>
</footer>
</body>
</html>
`;
  return page.value;
}

function banner(verification: ReportVerification): SafeHtml {
  switch (verification.status) {
    case 'verified':
      return html`<section class="banner verified" id="verification"><strong>Verified.</strong> The manifest is signed by trusted key <code class="digest">${verification.keyId}</code> (trusted through ${verification.trustedBy}), and every blob in the bundle matched its digest when this report was made.</section>`;
    case 'sealed':
      return html`<section class="banner sealed" id="verification"><strong>NOT verified.</strong> Written when the bundle was sealed, by the export side that signed it with key <code class="digest">${verification.keyId}</code> (${verification.algorithm}). Nobody has checked the bundle since, and this page itself is not signed: check the bundle with <code>ferry verify</code>, or make a verified report with <code>ferry report &lt;bundle&gt; -k &lt;public key&gt;</code>.</section>`;
    case 'unverified':
      return html`<section class="banner unverified" id="verification"><strong>NOT verified.</strong> This report shows what the bundle's manifest claims. Its signature${verification.keyId === undefined ? ' (none found)' : html` (claimed key <code class="digest">${verification.keyId}</code>, ${verification.algorithm ?? '?'})`} and its blob digests were not checked. Make a verified report with <code>ferry report &lt;bundle&gt; -k &lt;public key&gt;</code> or <code>-c &lt;import config&gt;</code>.</section>`;
  }
}

function bundleSection(model: ReportModel): SafeHtml {
  const signer = model.verification.keyId;
  return html`<section id="bundle"><h2>The bundle</h2>
<dl class="facts">
<dt>file</dt><dd><code>${model.bundleName}</code>${model.bundleSize === undefined ? '' : html` · ${bytes(model.bundleSize)}`}</dd>
<dt>source</dt><dd><code>${model.sourceId}</code></dd>
<dt>sequence</dt><dd>${model.sequence}</dd>
<dt>previous bundle</dt><dd>${model.previous === null ? html`<span class="none">none: the first bundle of this chain</span>` : html`<code class="digest">${model.previous}</code> (sequence ${model.sequence - 1})`}</dd>
<dt>bundle digest</dt><dd><code class="digest">${model.manifestDigest}</code> <span class="target">(sha256 of ferry/manifest.json)</span></dd>
<dt>signer key</dt><dd>${signer === undefined ? html`<span class="none">no signature found</span>` : html`<code class="digest">${signer}</code>`}</dd>
<dt>created</dt><dd>${model.createdAt}</dd>
<dt>format</dt><dd><code>${model.format}</code></dd>
<dt>OCI index</dt><dd><code class="digest">${model.layoutIndex}</code></dd>
</dl></section>`;
}

function totalsSection(model: ReportModel): SafeHtml {
  const t = model.totals;
  const card = (n: string | number, what: string, detail?: string) => html`<div class="card"><div class="n">${n}</div><div class="what">${what}</div>${detail === undefined ? '' : html`<div class="mono">${detail}</div>`}</div>`;
  return html`<section id="totals"><h2>Totals</h2>
<div class="cards">
${card(t.entries, `entries in ${count(t.repositories, 'repository', 'repositories')}`, t.byKind.map(([kind, n]) => `${kind} ${n}`).join(' · '))}
${card(formatBytes(t.included.bytes), `in this bundle: ${count(t.included.count, 'blob', 'blobs')}`, `${exact(t.included.bytes)}`)}
${card(formatBytes(t.required.bytes), `required from earlier bundles: ${count(t.required.count, 'blob', 'blobs')}`, `${exact(t.required.bytes)}`)}
${card(formatBytes(t.content), 'content the entries need', `${exact(t.content)}`)}
${model.bundleSize === undefined ? '' : card(formatBytes(model.bundleSize), 'bundle file', exact(model.bundleSize))}
</div></section>`;
}

function entriesSection(model: ReportModel): SafeHtml {
  if (model.groups.length === 0) return html`<section id="entries"><h2>What crosses</h2><p class="none">No entries: this bundle only carries blobs sent again.</p></section>`;
  return html`<section id="entries"><h2>What crosses</h2>${model.groups.map(groupTable)}</section>`;
}

function groupTable(group: EntryGroup): SafeHtml {
  const where = group.sourceRepository === group.targetRepository ? group.sourceRepository : `${group.sourceRepository} → ${group.targetRepository}`;
  const image = group.kind === 'image';
  return html`<h3><code>${where}</code> · ${group.kind} <span class="meta">· ${count(group.rows.length, 'entry', 'entries')} · ${formatBytes(group.bytes)}</span></h3>
<table class="entries" data-kind="${group.kind}" data-repository="${group.sourceRepository}">
<thead><tr><th class="num">#</th><th>${image ? 'image' : group.kind === 'raw' ? 'path' : 'component'}</th><th>${image ? 'tag' : 'version'}</th><th>details</th><th class="num">size</th><th>digest</th><th>carried</th></tr></thead>
<tbody>
${group.rows.map(
  (row) => html`<tr id="entry-${row.index + 1}"><td class="num">${row.index + 1}</td><td><code>${row.what}</code>${row.target === undefined ? '' : html`<div class="target">→ <code>${row.target}</code></div>`}</td><td>${row.version === undefined ? html`<span class="none">—</span>` : html`<code>${row.version}</code>`}</td><td>${details(row.details)}</td><td class="num" title="${exact(row.bytes)}">${formatBytes(row.bytes)}</td><td class="digest"><code class="digest">${row.digest}</code></td><td>${carried(row.carried)}</td></tr>
`,
)}</tbody></table>`;
}

function details(pairs: [string, string][]): SafeHtml {
  if (pairs.length === 0) return html`<span class="none">—</span>`;
  return html`<dl class="details">${pairs.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

function carried(c: Carried): SafeHtml {
  const from = (bundles: number[]) => bundles.map((n) => (n === 0 ? 'a receipt' : `bundle ${n}`)).join(', ');
  switch (c.how) {
    case 'included':
      return html`<span class="tag included">in this bundle</span>`;
    case 'required':
      return html`<span class="tag required">required</span> <span class="target">from ${from(c.from)}</span>`;
    case 'partly':
      return html`<span class="tag partly">partly</span> <span class="target">${c.included} of ${c.of} blobs here; the rest from ${from(c.from)}</span>`;
  }
}

function supplyChainSection(model: ReportModel): SafeHtml {
  if (model.supplyChain.length === 0) return html`<section id="supply-chain"><h2>Signatures, SBOMs and attestations</h2><p class="none">No images in this bundle.</p></section>`;
  return html`<section id="supply-chain"><h2>Signatures, SBOMs and attestations</h2>
<table class="supply-chain"><thead><tr><th>image</th><th>carries</th><th>reference and digest</th><th>declared types</th></tr></thead><tbody>
${model.supplyChain.map((row) => {
  const image = html`<code>${row.image}</code>${row.subject === undefined ? '' : html`<div class="target">for ${row.subject}</div>`}`;
  if (row.items.length === 0) return html`<tr><td>${image}</td><td colspan="3"><span class="tag none">no signature, SBOM or attestation</span></td></tr>\n`;
  return row.items.map(
    (item, i) =>
      html`<tr>${i === 0 ? html`<td rowspan="${row.items.length}">${image}</td>` : ''}<td><span class="tag ${['signature', 'attestation', 'SBOM'].includes(item.kind) ? item.kind : 'other'}">${item.kind}</span></td><td class="digest"><code class="digest">${item.ref}</code>${item.ref === item.digest ? '' : html`<div><code class="digest">${item.digest}</code></div>`}</td><td class="types">${item.types ?? html`<span class="none">unknown (not in this bundle)</span>`}</td></tr>\n`,
  );
})}</tbody></table></section>`;
}

function requiredSection(model: ReportModel): SafeHtml {
  if (model.required.length === 0) return html`<section id="required"><h2>Required from earlier bundles</h2><p class="none">Nothing: this bundle carries every blob its entries need.</p></section>`;
  return html`<section id="required"><h2>Required from earlier bundles</h2>
<p>These blobs are not in this bundle. The importer takes them from what the far side already holds; the bundle named must have been imported first.</p>
<table><thead><tr><th>digest</th><th class="num">size</th><th>shipped in</th><th>needed by</th></tr></thead><tbody>
${model.required.map((r) => html`<tr><td class="digest"><code class="digest">${r.digest}</code></td><td class="num" title="${exact(r.size)}">${formatBytes(r.size)}</td><td>${r.shippedIn === 0 ? 'another chain (the far side holds it, per a receipt)' : `bundle ${r.shippedIn}`}</td><td>${r.neededBy.map((n) => html`<div><code>${n}</code></div>`)}</td></tr>\n`)}
</tbody></table></section>`;
}

function resentSection(model: ReportModel): SafeHtml {
  if (model.resent.length === 0) return html``;
  return html`<section id="resent"><h2>Sent again</h2>
<p>Blobs no entry of this bundle needs, carried because the far side asked for them again (a resend request).</p>
<table><thead><tr><th>digest</th><th class="num">size</th></tr></thead><tbody>
${model.resent.map((b) => html`<tr><td class="digest"><code class="digest">${b.digest}</code></td><td class="num">${bytes(b.size)}</td></tr>\n`)}
</tbody></table></section>`;
}

function partsSection(model: ReportModel): SafeHtml {
  if (model.parts.length === 0) return html``;
  return html`<section id="parts"><h2>Parts of blobs bigger than the media</h2>
<p>Each blob below travels in parts across bundles; the importer puts it together, and checks it against its digest, once it holds every part. A part shipped in an earlier bundle must have been imported first (or be imported together with this one).</p>
<table><thead><tr><th>blob</th><th class="num">offset</th><th class="num">length</th><th>part digest</th><th>shipped in</th></tr></thead><tbody>
${model.parts.map((p) => html`<tr><td class="digest"><code class="digest">${p.blob}</code> (${formatBytes(p.size)})</td><td class="num">${exact(p.offset)}</td><td class="num">${exact(p.length)}</td><td class="digest"><code class="digest">${p.digest}</code></td><td>${p.shippedIn === model.sequence ? 'this bundle' : `bundle ${p.shippedIn}`}</td></tr>\n`)}
</tbody></table></section>`;
}

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;


const exact = (n: number) => `${groupDigits(n)} bytes`;
const bytes = (n: number) => (n < 1024 ? exact(n) : `${formatBytes(n)} (${exact(n)})`);
