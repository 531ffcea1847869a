/**
 * The parts of a packument (`GET /repository/R/<name>`, the document npm clients resolve
 * versions and tags from) that Ferry reads: `dist-tags`, and each version's `dist`
 * (`shasum`, `integrity`, `tarball`). Read whole, with a bound: packuments of proxied public
 * packages with thousands of versions run to tens of megabytes.
 */
import * as z from 'zod';
import { issueLines } from '../../../issues.ts';
import type { ArtifactSource } from '../../ports/index.ts';
import { NpmPackumentError } from './errors.ts';
import { packumentPath } from './names.ts';

export const MAX_PACKUMENT_BYTES = 128 * 1024 * 1024;

const distSchema = z.object({ shasum: z.string().optional(), integrity: z.string().optional(), tarball: z.string().optional() });

const packumentSchema = z.object({
  'dist-tags': z.record(z.string(), z.unknown()).optional(),
  // A full packument has a document per version; Nexus leaves a version's `dist` out nowhere, but be tolerant.
  versions: z.record(z.string(), z.object({ dist: distSchema.optional() })).optional(),
});

export type VersionDist = z.output<typeof distSchema>;

export interface Packument {
  /** Tag → version; tags whose value is not a string are left out. */
  distTags: Record<string, string>;
  versions: Map<string, VersionDist>;
}

/** Reads and parses a packument; undefined when the repository has none (404). */
export async function readPackument(side: Pick<ArtifactSource, 'readContent'>, repository: string, name: string): Promise<Packument | undefined> {
  const body = await side.readContent(repository, packumentPath(name), MAX_PACKUMENT_BYTES);
  if (body === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (cause) {
    throw new NpmPackumentError(repository, name, [`not JSON: ${(cause as Error).message}`], { cause });
  }
  const parsed = packumentSchema.safeParse(json);
  if (!parsed.success) throw new NpmPackumentError(repository, name, issueLines(parsed.error));
  const distTags = Object.fromEntries(Object.entries(parsed.data['dist-tags'] ?? {}).filter((kv): kv is [string, string] => typeof kv[1] === 'string'));
  const versions = new Map(Object.entries(parsed.data.versions ?? {}).map(([version, doc]) => [version, doc.dist ?? {}]));
  return { distTags, versions };
}
