/**
 * The `tombstone` entry kind in the manifest schema (docs/bundle-format.md, "Tombstones (v3)"):
 * only in ferry.bundle.v3, coordinates shaped like the kind it removes, no blob, and canonical
 * bytes that parse back to the same manifest.
 */
import { describe, expect, it } from 'vitest';
import { bundleFormatFor, parseManifest, serializeManifest, validateManifest, type BundleManifest } from '../shared/bundle/index.ts';
import { ManifestError } from '../shared/bundle/errors.ts';
import { sha256Of } from '../shared/digest.ts';

const raw = { kind: 'tombstone', of: 'raw', source: { repository: 'raw-a', path: '/d/x.bin' }, target: { repository: 'raw-b', path: '/d/x.bin' }, digest: sha256Of('x'), size: 1, checksums: { sha1: 'ab'.repeat(20) } };
const image = { kind: 'tombstone', of: 'image', source: { repository: 'docker-hosted', name: 'team/app', tag: '1.0' }, target: { repository: 'docker-hosted', name: 'team/app', tag: '1.0' }, digest: sha256Of('m'), size: 9, checksums: {} };

function manifest(format: string, entries: unknown[]): unknown {
  return { format, sourceId: 'src', sequence: 1, previous: null, createdAt: '2026-01-01T00:00:00.000Z', entries, blobs: { included: [], required: [] }, layout: { index: sha256Of('{}') } };
}

describe('tombstone entries', () => {
  it('are read from a v3 manifest, need no blob, and serialise to bytes that parse back the same', () => {
    // Act
    const parsed = validateManifest(manifest('ferry.bundle.v3', [raw, image]), 'm.json');
    const again = parseManifest(serializeManifest(parsed), 'm.json');

    // Assess
    expect(again).toEqual(parsed);
    expect(parsed.entries).toEqual([raw, image]);
    expect(bundleFormatFor(parsed.entries as BundleManifest['entries'])).toBe('ferry.bundle.v3');
  });

  it('are refused in a v2 manifest, naming the entry', () => {
    expect(() => validateManifest(manifest('ferry.bundle.v2', [raw]), 'm.json')).toThrow(/entries\[0\]\.kind: tombstone entries need format ferry\.bundle\.v3/);
  });

  it('are refused when their coordinates do not have the shape of the kind they remove', () => {
    // Act
    const pathForImage = () => validateManifest(manifest('ferry.bundle.v3', [{ ...image, source: raw.source }]), 'm.json');

    // Assess
    expect(pathForImage).toThrow(ManifestError);
    expect(pathForImage).toThrow(/entries\[0\]\.source: must be \{repository, name, tag\} for an image/);
  });
});
