/**
 * What one package format (maven2, npm, pypi, nuget, helm) tells the shared package module.
 * These formats share their shape: every asset is a file with a checksum, staged like a raw
 * asset and entered with its component's coordinates; they differ in which assets are
 * content, how the target takes them (the format's own upload fields, a PUT in layout, a
 * form), and what a client must see afterwards (an index, a packument, metadata).
 */
import type { PackageBundleEntry } from '../../../bundle/index.ts';
import type { Digest } from '../../../digest.ts';
import type { EntryRefusal } from '../../import/errors.ts';
import type {
  BlobSource,
  Checksums,
  ComponentCoordinates,
  PackageCopyTask,
  SourceAsset,
  SourceComponent,
  TargetRepository,
} from '../../ports/index.ts';
import type { ExportDeps, ImportDeps } from '../format.ts';

/** The fields an entry of this kind has beyond the ones every package entry has. */
export type KindFields<E extends PackageBundleEntry> = Omit<E, 'kind' | 'source' | 'target' | 'digest' | 'size' | 'checksums' | 'component'>;

/** What the ledger keeps of a package entry besides digest and size (StagedEntry.detail). */
export interface PackageDetail<E extends PackageBundleEntry = PackageBundleEntry> {
  component: ComponentCoordinates;
  fields: KindFields<E>;
}

/** An entry of this bundle as the package module hands it to the format. */
export interface PackageItem<E extends PackageBundleEntry = PackageBundleEntry> {
  index: number;
  entry: E;
  /** `maven-releases/org/example/widget/1.0.0/widget-1.0.0.jar`: the entry in words. */
  label: string;
  /** The target repository after the import's repository map. */
  repository: string;
  target: TargetRepository;
}

export interface PackageSpec<E extends PackageBundleEntry = PackageBundleEntry> {
  readonly format: E['kind'];

  // ── export side
  /**
   * The component of one listed asset (from the listing, else from the path, for a webhook
   * that names only the asset), or undefined when the asset is not content carried on its
   * own: checksum sidecars and generated metadata the target makes itself, a signature that
   * travels with its file.
   */
  identify(asset: SourceAsset, component: SourceComponent | undefined): { component: ComponentCoordinates; attributes?: Record<string, string> } | undefined;
  /** Also compute sha512 while staging (npm's `dist.integrity`). */
  readonly sha512?: boolean;
  /** The kind's own entry fields, read while staging (dist-tags, a signature, the maven extension). */
  entryFields(deps: ExportDeps, task: PackageCopyTask, staged: { digest: Digest; size: number; checksums: Checksums }): Promise<KindFields<E>>;
  /** Blobs besides the asset's own that the entry needs (a signature). */
  extraBlobs?(fields: KindFields<E>): { digest: Digest; size: number }[];
  /** Where on the source a blob of the entry can be fetched again (default: the entry's path). */
  resendPath?(entry: E, digest: Digest): string;
  /**
   * Where the upload puts the file on the target when that is not the source path (a pypi
   * proxy caches files under the remote's path; a hosted target files them by name and
   * version). Default: the source path.
   */
  targetPath?(sourcePath: string, component: ComponentCoordinates): string;

  // ── in words
  /** `org.example:widget:1.0.0`, `@scope/pkg@2.1.0`, `chart 1.2.3`. */
  coordinates(entry: E): string;

  // ── import side
  /**
   * Why the target would not take this write as the bundle means it (a snapshot into a
   * release repository, a pom that files the component elsewhere), else undefined. Asked
   * in the plan, before any write, for each entry to write; held blobs may be read.
   */
  refuse?(item: PackageItem<E>, deps: ImportDeps): string | undefined | Promise<string | undefined>;
  /** Entries with one key go to the target in one write (a Maven component); default: each alone. */
  groupKey?(entry: E): string;
  /** Writes one group (no two entries share a path); `blob` opens held content. */
  write(deps: ImportDeps, items: PackageItem<E>[], blob: (digest: Digest) => Promise<BlobSource>): Promise<void>;
  /**
   * After every write of the bundle, with every entry of this format (earlier runs' included,
   * so a re-run finishes what a killed one started): settle what the upload does not
   * (dist-tags, metadata) and check that what clients read shows each entry.
   */
  finish?(deps: ImportDeps, items: PackageItem<E>[]): Promise<EntryRefusal[]>;
}
