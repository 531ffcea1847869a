/**
 * Which assets of a NuGet repository are packages, and whose. Nexus keeps one asset per
 * hosted component, the `.nupkg`, but where it keeps it is not documented and not public
 * source: the NuGet v2 download path `<id>/<version>` (no extension; what the OrientDB
 * store is known to use) or a file path ending in `<id>.<version>.nupkg`
 * (`/<id>/<version>/<id>.<version>.nupkg`, or under `v3/content/` on a proxy). Both are
 * taken; anything else (service indexes, `.nuspec` copies, symbol packages) is not
 * content Ferry carries.
 */
import type { ComponentCoordinates, SourceAsset, SourceComponent } from '../../ports/index.ts';

const NUPKG = /\.nupkg$/i;
/** A NuGet version starts with a digit (`1.2.3`, `1.0.0-beta.1`, `2.0.0.1`). */
const VERSION_START = /^\d/;

/**
 * The component of a package asset: from the listing when it names one, else from the
 * path (a webhook naming only the asset). Undefined for what is not a `.nupkg`.
 */
export function identifyPackage(asset: SourceAsset, component: SourceComponent | undefined): { component: ComponentCoordinates } | undefined {
  const segments = asset.path.split('/').slice(1);
  const listed = component !== undefined && component.version !== null && component.version !== '' ? { group: null, name: component.name, version: component.version } : undefined;
  if (NUPKG.test(asset.path)) {
    if (listed !== undefined) return { component: listed };
    // `…/<id>/<version>/<id>.<version>.nupkg`: the two folders name the package.
    if (segments.length < 3) return undefined;
    const [id, version] = segments.slice(-3, -1) as [string, string];
    return VERSION_START.test(version) ? { component: { group: null, name: id, version } } : undefined;
  }
  // The v2-style hosted asset `<id>/<version>`: exactly two segments, the first the package id.
  if (segments.length !== 2) return undefined;
  const [id, version] = segments as [string, string];
  if (listed !== undefined) return id.toLowerCase() === listed.name.toLowerCase() ? { component: listed } : undefined;
  return VERSION_START.test(version) ? { component: { group: null, name: id, version } } : undefined;
}

/**
 * A version as the v3 flat container lists it (NuGet's normalised form, lowercase, no
 * build metadata): `1.02` → `1.2.0`, `2.0.0.0` → `2.0.0`, `1.0.0-Beta+abc` → `1.0.0-beta`.
 * Text that is not a NuGet version is only lowercased.
 */
export function flatContainerVersion(version: string): string {
  const plain = version.trim().toLowerCase().split('+')[0]!;
  const dash = plain.indexOf('-');
  const release = dash < 0 ? plain : plain.slice(0, dash);
  const label = dash < 0 ? '' : plain.slice(dash);
  const parts = release.split('.');
  if (parts.length > 4 || !parts.every((part) => /^\d+$/.test(part))) return plain;
  const numbers = parts.map((part) => part.replace(/^0+(?=\d)/, ''));
  while (numbers.length < 3) numbers.push('0');
  if (numbers.length === 4 && numbers[3] === '0') numbers.pop();
  return `${numbers.join('.')}${label}`;
}
