/**
 * A carried repository as the core sees it, per format. The configuration (shared/config)
 * maps every entry point's settings to these.
 */
import type { PackageFormat } from '../ports/index.ts';
import type { ImageFilter } from './docker/filter.ts';

export interface RawRepository {
  name: string;
  format: 'raw';
  /** The repository on the far side. */
  target: string;
  /** Deletions on the source travel as tombstones (`deletions: carry`). */
  carryDeletions?: boolean | undefined;
}

export interface DockerRepository {
  name: string;
  format: 'docker';
  target: string;
  /** `nexus`: the components API lists tags; `registry`: the registry's catalog and tags lists. */
  discovery: 'nexus' | 'registry';
  filter: ImageFilter;
  /**
   * Carry signatures, attestations and SBOMs: with their subject, and — when they are
   * pushed after it was carried (sign after push) — as their own tags.
   */
  referrers: boolean;
  carryDeletions?: boolean | undefined;
}

/** A maven2, npm, pypi, nuget or helm repository (hosted or proxy; a group is scanned as its members). */
export interface PackageRepository {
  name: string;
  format: PackageFormat;
  target: string;
  carryDeletions?: boolean | undefined;
}

export type ScanRepository = RawRepository | DockerRepository | PackageRepository;
