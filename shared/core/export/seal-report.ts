/**
 * The HTML report a seal writes beside each bundle it publishes, for the reviewers who look
 * at what crosses before it is carried. It is derived data: written after the bundle is
 * published and before the seal marks it so, it is written again by the run that finishes
 * a seal killed in between; a failure to write it is logged and the seal goes on (`ferry
 * report` makes it again). It never changes what the bundle holds.
 */
import { parseManifest, type BundleManifest } from '../../bundle/manifest.ts';
import { ImageDocuments, MAX_DOCUMENT_BYTES, readBundleHead, renderReport, type ReportVerification } from '../../bundle/report/index.ts';
import { formatOfEntry } from '../formats/index.ts';
import type { BundleRecord, ObjectStore } from '../ports/index.ts';
import { BlobNotFoundError } from '../ports/errors.ts';
import type { Log } from '../log.ts';
import type { Signer } from '../../signing.ts';

export interface SealReportDeps {
  store: ObjectStore;
  log: Log;
  signer: Signer;
}

/**
 * Writes the report of a published bundle, when the store keeps reports. `manifestBytes`
 * are the sealed manifest when this run sealed the bundle; otherwise (a bundle an earlier
 * run recorded) the manifest is read back from the published bundle. Returns where the
 * report is, or undefined when there is none.
 */
export async function writeSealReport(deps: SealReportDeps, record: BundleRecord, manifestBytes?: Buffer): Promise<string | undefined> {
  const { store, log } = deps;
  if (store.putBundleReport === undefined) return undefined;
  try {
    const sealed = await sealedManifest(deps, record, manifestBytes);
    if (sealed === undefined) return undefined;
    const documents = await imageDocuments(store, sealed.manifest);
    const html = renderReport({
      manifest: sealed.manifest,
      manifestDigest: record.digest,
      bundle: { name: record.name, size: record.size },
      verification: sealed.verification,
      documents,
      coordinates: (entry) => formatOfEntry(entry).coordinates(entry),
    });
    return (await store.putBundleReport(record.name, html)).location;
  } catch (error) {
    log.warn(`${record.name} is sealed and published, but its report could not be written (\`ferry report\` makes it again): ${(error as Error).message}`, { bundle: record.name });
    return undefined;
  }
}

async function sealedManifest(
  deps: SealReportDeps,
  record: BundleRecord,
  manifestBytes: Buffer | undefined,
): Promise<{ manifest: BundleManifest; verification: ReportVerification } | undefined> {
  const { store, signer } = deps;
  if (manifestBytes !== undefined) {
    return { manifest: parseManifest(manifestBytes, record.name), verification: { status: 'sealed', keyId: signer.keyId, algorithm: signer.algorithm } };
  }
  if (store.openBundle === undefined) return undefined;
  const head = await readBundleHead(await store.openBundle(record.name), record.name);
  const verification: ReportVerification =
    head.signature === undefined ? { status: 'unverified', keyId: undefined, algorithm: undefined } : { status: 'sealed', keyId: head.signature.keyId, algorithm: head.signature.algorithm };
  return { manifest: head.manifest, verification };
}

/** The image documents the report reads (tagged manifests, configs, referrers), from the staged blobs that are still here. */
async function imageDocuments(store: ObjectStore, manifest: BundleManifest): Promise<ImageDocuments> {
  const documents = new ImageDocuments(manifest);
  const tried = new Set<string>();
  for (let missing = documents.missing(); missing.some((d) => !tried.has(d)); missing = documents.missing()) {
    for (const digest of missing.filter((d) => !tried.has(d))) {
      tried.add(digest);
      // A blob no longer staged (shipped long ago, or only held per a receipt) leaves its facts unknown.
      const staged = await store.getBlob(digest).catch((error: unknown) => {
        if (error instanceof BlobNotFoundError) return undefined;
        throw error;
      });
      if (staged === undefined || staged.size > MAX_DOCUMENT_BYTES) continue;
      const chunks: Buffer[] = [];
      for await (const chunk of await staged.open()) chunks.push(chunk as Buffer);
      documents.add(digest, Buffer.concat(chunks));
    }
  }
  return documents;
}
