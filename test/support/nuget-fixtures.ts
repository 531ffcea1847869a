/**
 * NuGet packages for tests: a real `.nupkg` layout (a zip with `<id>.nuspec` at its root,
 * the OPC parts `dotnet pack` writes, and a library), small and deterministic, with `seed`
 * changing the library's bytes so one id and version can be rebuilt with other content.
 */
import { zip } from '../nexus-standin/archives.ts';
import type { NexusStandin } from '../nexus-standin/index.ts';
import { content } from './world.ts';

export function nuspec(id: string, version: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    '<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">\n' +
    '  <metadata>\n' +
    `    <id>${id}</id>\n` +
    `    <version>${version}</version>\n` +
    '    <authors>Contoso</authors>\n' +
    `    <description>${id}, a test package</description>\n` +
    '  </metadata>\n' +
    '</package>\n'
  );
}

/** A `.nupkg` of this id and version; another `seed` gives other bytes for the same coordinates. */
export function nupkg(id: string, version: string, seed = ''): Buffer {
  return zip([
    { name: '_rels/.rels', content: '<?xml version="1.0" encoding="utf-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships" />' },
    { name: `${id}.nuspec`, content: nuspec(id, version) },
    { name: `lib/netstandard2.0/${id}.dll`, content: content(`${id}@${version}#${seed}`, 1500) },
    { name: '[Content_Types].xml', content: '<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types" />' },
  ]);
}

/** Uploads a package to a stand-in the way `POST /v1/components` with `nuget.asset` does; returns its bytes and stored path. */
export async function seedNupkg(standin: NexusStandin, repository: string, id: string, version: string, seed = ''): Promise<{ bytes: Buffer; path: string }> {
  const bytes = nupkg(id, version, seed);
  const { paths } = await standin.seedUpload(repository, { files: [{ field: 'nuget.asset', filename: `${id}.${version}.nupkg`, content: bytes }] });
  return { bytes, path: paths[0]! };
}
