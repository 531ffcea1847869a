/**
 * Reading a bundle for its report, in one streaming pass: verified (the reference verifier,
 * as `ferry verify` runs it) or not (as `ferry inspect` reads it). On the way it keeps the
 * few small image documents the report reads platforms and referrer types from; every
 * other blob streams past.
 */
import type { KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Digest } from '../../digest.ts';
import { parseSignature, type DetachedSignature } from '../../signing.ts';
import { MissingMemberError } from '../errors.ts';
import { MANIFEST_MEMBER, MAX_SIGNATURE_BYTES, SIGNATURE_MEMBER } from '../layout.ts';
import { manifestDigest as digestOf, MAX_MANIFEST_BYTES, parseManifest, type BundleManifest } from '../manifest.ts';
import { readBundleSummary, verifyBundle } from '../reader.ts';
import { walkTar } from '../tar-walk.ts';
import { ImageDocuments } from './documents.ts';
import type { ReportVerification } from './model.ts';

export interface BundleForReport {
  manifest: BundleManifest;
  manifestDigest: Digest;
  documents: ImageDocuments;
  verification: ReportVerification;
}

/**
 * Verifies the bundle as `ferry verify --public-key` does (signature by one of `trustedKeys`,
 * layout, every blob's digest) and rejects with the verifier's error when it does not hold.
 * `trustedBy` says where the keys came from, for the report.
 */
export async function readVerifiedForReport(input: Readable, where: string, trustedKeys: KeyObject[], trustedBy: string): Promise<BundleForReport> {
  let documents: ImageDocuments | undefined;
  const verified = await verifyBundle(input, {
    where,
    trustedKeys,
    onManifest: (manifest) => {
      documents = new ImageDocuments(manifest);
    },
    onBlob: async (blob, content) => {
      // A blob not kept streams on through the verifier all the same.
      if (documents?.wants(blob.digest, blob.size)) documents.add(blob.digest, await collect(content));
    },
  });
  return {
    manifest: verified.manifest,
    manifestDigest: verified.manifestDigest,
    documents: documents ?? new ImageDocuments(verified.manifest),
    verification: { status: 'verified', keyId: verified.keyId, trustedBy },
  };
}

/** Reads what the bundle claims, checking nothing but its tar structure. */
export async function readUnverifiedForReport(input: Readable, where: string): Promise<BundleForReport> {
  let documents: ImageDocuments | undefined;
  const summary = await readBundleSummary(input, where, {
    onManifest: (manifest) => {
      documents = new ImageDocuments(manifest);
    },
    onBlob: async (blob, content) => {
      // The manifest precedes the blobs in a well-formed bundle; documents that do not hash to their digest are dropped.
      const wanted = documents?.wants(blob.digest, blob.size) ?? false;
      const bytes = await collect(content, wanted);
      if (wanted) documents!.add(blob.digest, bytes);
    },
  });
  documents ??= new ImageDocuments(summary.manifest);
  return {
    manifest: summary.manifest,
    manifestDigest: summary.manifestDigest,
    documents,
    verification: { status: 'unverified', keyId: summary.signature?.keyId, algorithm: summary.signature?.algorithm },
  };
}

/** A bundle's manifest and stored signature, reading no further than the signature member (the seal reads its own bundles back). */
export async function readBundleHead(input: Readable, where: string): Promise<{ manifest: BundleManifest; manifestDigest: Digest; signature: DetachedSignature | undefined }> {
  let manifest: { manifest: BundleManifest; manifestDigest: Digest } | undefined;
  let signature: DetachedSignature | undefined;
  const done = new Error('head read');
  try {
    await walkTar(input, where, async (name, size, entry) => {
      if (name === MANIFEST_MEMBER && size <= MAX_MANIFEST_BYTES) {
        const bytes = await collect(entry);
        manifest = { manifest: parseManifest(bytes, `${where}: ${MANIFEST_MEMBER}`), manifestDigest: digestOf(bytes) };
        return;
      }
      if (name === SIGNATURE_MEMBER && size <= MAX_SIGNATURE_BYTES) {
        signature = parseSignature(await collect(entry), `${where}: ${SIGNATURE_MEMBER}`);
        throw done;
      }
      await collect(entry, false);
    });
  } catch (error) {
    if (error !== done) throw error;
  }
  if (manifest === undefined) throw new MissingMemberError(where, MANIFEST_MEMBER);
  return { ...manifest, signature };
}

/** The content's bytes (or, with `keep` false, just consumes it). */
async function collect(content: AsyncIterable<unknown>, keep = true): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of content) if (keep) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
