/** `ferry inspect`: what a bundle holds, without verifying it (use `verify` for that). */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { assembledBlobs, coordinatesLabel, readBundleSummary } from '../../shared/bundle/index.ts';
import { formatOfEntry } from '../../shared/core/formats/index.ts';
import { requireFiles } from '../files.ts';
import { makeOutput } from '../output.ts';
import { formatBytes } from '../units.ts';

export async function inspectCommand(file: string, options: { json?: boolean }): Promise<void> {
  await requireFiles([file], 'bundle');
  const out = makeOutput();
  const summary = await readBundleSummary(createReadStream(file), path.basename(file));
  const { manifest } = summary;
  const bytes = summary.members.reduce((n, m) => n + m.size, 0);
  if (options.json) {
    const coordinates = manifest.entries.map((entry) => formatOfEntry(entry).coordinates(entry));
    out.line(JSON.stringify({ file: path.basename(file), digest: summary.manifestDigest, signedBy: summary.signature?.keyId ?? null, manifest, coordinates, members: summary.members, bytes }, null, 2));
    return;
  }
  out.line(`bundle      ${path.basename(file)}`);
  out.line(`source      ${manifest.sourceId}, sequence ${manifest.sequence}, created ${manifest.createdAt}`);
  out.line(`digest      ${summary.manifestDigest}`);
  out.line(`previous    ${manifest.previous ?? '(first bundle)'}`);
  out.line(`signed by   ${summary.signature?.keyId ?? '(no signature)'} (${summary.signature?.algorithm ?? '-'}; not verified here)`);
  out.line(`blobs       ${manifest.blobs.included.length} included (${formatBytes(manifest.blobs.included.reduce((n, b) => n + b.size, 0))}), ${manifest.blobs.required.length} required from earlier bundles`);
  const parts = manifest.blobs.parts ?? [];
  const carried = parts.filter((p) => p.shippedIn === manifest.sequence);
  const assembled = new Set(assembledBlobs(parts).map((b) => b.digest));
  if (parts.length > 0) {
    out.line(`parts       ${carried.length} carried (${formatBytes(carried.reduce((n, p) => n + p.length, 0))}) of ${new Set(parts.map((p) => p.blob)).size} blob(s) bigger than the media; ${assembled.size} complete in this bundle`);
  }
  out.line(`entries     ${manifest.entries.length}`);
  for (const entry of manifest.entries) {
    const shipped = manifest.blobs.included.some((b) => b.digest === entry.digest) ? 'shipped' : assembled.has(entry.digest) ? 'shipped in parts' : 'required';
    // The component in its format's words (org.example:widget:1.0.0, @scope/pkg@2.1.0, chart web 1.2.3), then where it goes.
    const coordinates = formatOfEntry(entry).coordinates(entry);
    out.line(`  ${entry.kind.padEnd(6)} ${coordinates}  ${coordinatesLabel(entry.source)} → ${coordinatesLabel(entry.target)}  ${formatBytes(entry.size)}  ${entry.digest.slice(0, 19)}…  ${shipped}`);
  }
  out.line(`tar members ${summary.members.length}, ${formatBytes(bytes)} of content`);
}

export { formatBytes };
