/**
 * PyPI names and paths as Nexus uses them: project names normalised per PEP 503, hosted
 * files at `/packages/<normalised name>/<version>/<file>` (Nexus's `createPackagePath`),
 * and what a distribution's file name says when nothing else does (a webhook that names
 * only the asset, a proxy's cached `/packages/<hash path>/<file>`).
 */
import { assetPathProblems } from '../../../bundle/index.ts';
import type { ComponentCoordinates } from '../../ports/index.ts';

/** PEP 503: runs of `-`, `_` and `.` become one `-`, all lowercase. Nexus names components and index pages so. */
export function normaliseName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** The last path segment. */
export function fileNameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Where Nexus keeps a hosted file (`createPackagePath`); the signature is this plus `.asc`. */
export function packagePath(component: Pick<ComponentCoordinates, 'name' | 'version'>, file: string): string {
  return `/packages/${normaliseName(component.name)}/${component.version}/${file}`;
}

/** The simple index page of a project, relative to the repository. */
export function indexPath(name: string): string {
  return `/simple/${normaliseName(name)}/`;
}

/**
 * Not content carried on its own: the generated simple index (`/simple/…`, rebuilt by the
 * target) and detached signatures (`<file>.asc`, carried with their file).
 */
export function isGeneratedOrSignature(path: string): boolean {
  return path === '/simple' || path.startsWith('/simple/') || path.endsWith('.asc');
}

const WHEEL = /^([^-]+)-([^-]+)(?:-\d[^-]*)?-([^-]+)-[^-]+-[^-]+\.whl$/;
const EGG = /^([^-]+)-([^-]+)(?:-py(\d[^-]*))?(?:-[^-]+)?\.egg$/;
/** Legacy sdist names may hold dashes (`python-dateutil-2.8.2.tar.gz`): the version starts at the last `-<digit>`. */
const SDIST = /^(.+)-(\d[^-]*?)\.(?:tar\.gz|tar\.bz2|tar\.xz|tgz|tar|zip)$/;

/** What a distribution's file name says: project, version, and the upload API's `filetype` / `pyversion`. */
export function describeFile(file: string): { name: string; version: string; filetype: string; pyversion: string } | undefined {
  const wheel = WHEEL.exec(file);
  if (wheel !== null) return { name: wheel[1]!, version: wheel[2]!, filetype: 'bdist_wheel', pyversion: wheel[3]! };
  const egg = EGG.exec(file);
  if (egg !== null) return { name: egg[1]!, version: egg[2]!, filetype: 'bdist_egg', pyversion: egg[3] ?? 'source' };
  const sdist = SDIST.exec(file);
  if (sdist !== null) return { name: sdist[1]!, version: sdist[2]!, filetype: 'sdist', pyversion: 'source' };
  return undefined;
}

/** The component a path names: `/packages/<name>/<version>/<file>`, else the file name's own. */
export function componentFromPath(path: string): ComponentCoordinates | undefined {
  const segments = path.split('/').slice(1);
  if (segments.length === 4 && segments[0] === 'packages' && segments[1] !== '' && segments[2] !== '') {
    return { group: null, name: segments[1]!, version: segments[2]! };
  }
  const described = describeFile(fileNameOf(path));
  return described === undefined ? undefined : { group: null, name: normaliseName(described.name), version: described.version };
}

/**
 * Where the file lands on the target: the hosted layout the upload computes from name and
 * version. For a hosted source that is the source path; a proxy's cache keeps the remote's
 * path (`/packages/3d/ab/<hash>/<file>`), which a hosted target does not use. A component
 * whose layout path Nexus would refuse keeps the source path (the upload then says why).
 */
export function targetPathOf(sourcePath: string, component: ComponentCoordinates): string {
  const path = packagePath(component, fileNameOf(sourcePath));
  return assetPathProblems(path).length === 0 ? path : sourcePath;
}
