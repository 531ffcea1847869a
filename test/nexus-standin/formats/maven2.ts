/**
 * maven2, as Nexus's MavenUploadHandler and its hosted Maven facet behave: the component
 * upload (`maven2.groupId`/`artifactId`/`version`, `maven2.assetN` + `.extension` +
 * `.classifier`; coordinates from a pom asset when there is one), refused on snapshot
 * repositories; checksum files stored beside each uploaded file; the artifact-level
 * `maven-metadata.xml` rebuilt after an upload. A PUT in Maven layout (the maven client's
 * deploy) stores what it is given — files, hashes, metadata — and rebuilds nothing.
 */
import { readFileSync } from 'node:fs';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { isValidAssetPath, normalisePath } from '../format.ts';
import { SEED_ACTOR, type AssetWrite, type RepositoryState, type StagedBlob } from '../store.ts';
import { artifactMetadataWrites, checksumWrites, fileWrite, isSnapshot, layoutOf, METADATA_ATTRIBUTES, type GavFile } from './maven2-layout.ts';
import type { FormatContext, FormatResult, ParsedForm, StandinFormat } from './types.ts';

const COORDINATES = 'Component coordinates';
const field = (name: string, optional: boolean, type = 'STRING', group: string | null = COORDINATES) => ({ name, type, description: null, optional, group });

export const MAVEN2_UPLOAD_SPEC = {
  format: 'maven2',
  multipleUpload: true,
  componentFields: [
    field('groupId', false),
    field('artifactId', false),
    field('version', false),
    field('generate-pom', true, 'BOOLEAN'),
    field('packaging', true),
  ],
  assetFields: [field('classifier', true, 'STRING', null), field('extension', false, 'STRING', null)],
};

/** The names Nexus's messages use for the required component fields. */
const REQUIRED_COMPONENT_FIELDS: [string, string][] = [
  ['groupId', 'Group ID'],
  ['artifactId', 'Artifact ID'],
  ['version', 'Version'],
];

interface AssetUpload {
  name: string;
  fields: Map<string, string>;
  blob: StagedBlob;
}

/** Writes an upload made, so `written` rebuilds metadata after uploads only (not after a PUT). */
const fromUpload = new WeakSet<AssetWrite>();

/** The form as ComponentUploadUtils splits it: `maven2.` dropped, blank values ignored, `<file part>.<field>` an asset field. */
function componentUpload(form: ParsedForm): { fields: Map<string, string>; assets: AssetUpload[] } {
  const strip = (name: string) => (name.startsWith('maven2.') ? name.slice('maven2.'.length) : name);
  const assets = [...form.files].map(([name, blob]) => ({ name: strip(name), fields: new Map<string, string>(), blob }));
  assets.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const fields = new Map<string, string>();
  for (const [rawName, value] of form.fields) {
    if (value.trim() === '') continue;
    const name = strip(rawName);
    const dot = name.indexOf('.');
    const asset = dot > 0 && name.length > dot + 2 ? assets.find((a) => a.name === name.slice(0, dot)) : undefined;
    if (asset !== undefined) asset.fields.set(name.slice(dot + 1), value);
    else fields.set(name, value);
  }
  return { fields, assets };
}

const isPomAsset = (asset: AssetUpload) => asset.fields.get('extension') === 'pom' && !asset.fields.get('classifier');

/** MavenValidatingComponentUpload: its checks, in its order, with its messages. */
function validate(fields: Map<string, string>, assets: AssetUpload[]): string[] {
  const errors: string[] = [];
  if (assets.length === 0) errors.push('No assets found in upload');
  const known = MAVEN2_UPLOAD_SPEC.componentFields.map((f) => f.name);
  for (const name of fields.keys()) if (!known.includes(name)) errors.push(`Unknown component field '${name}'`);
  if (!assets.some(isPomAsset)) {
    for (const [name, display] of REQUIRED_COMPONENT_FIELDS) if (!fields.get(name)) errors.push(`Missing required component field '${display}'`);
  }
  const seen = new Map<string, number>();
  assets.forEach((asset, i) => {
    for (const name of asset.fields.keys()) if (name !== 'classifier' && name !== 'extension') errors.push(`Unknown field '${name}' on asset '${i + 1}'`);
    if (!asset.fields.get('extension')) errors.push(`Missing required asset field 'Extension' on '${i + 1}'`);
  });
  assets.forEach((asset, i) => {
    const key = JSON.stringify([...asset.fields].sort());
    const first = seen.get(key);
    if (first !== undefined) errors.push(`The assets ${first} and ${i + 1} have identical coordinates`);
    seen.set(key, i + 1);
  });
  return errors;
}

const pomParser = new XMLParser({ parseTagValue: false, ignoreAttributes: true });

/** The pom's groupId:artifactId:version as Nexus reads it (groupId and version from the parent when absent). */
function pomCoordinates(blob: StagedBlob): { groupId: string; artifactId: string; version: string } | { error: string } {
  const text = readFileSync(blob.file, 'utf8');
  const project = XMLValidator.validate(text) === true ? (pomParser.parse(text) as { project?: Record<string, unknown> }).project : undefined;
  if (project === undefined || typeof project !== 'object' || project === null) return { error: 'The provided POM file is invalid.' };
  const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);
  const parent = (typeof project['parent'] === 'object' && project['parent'] !== null ? project['parent'] : {}) as Record<string, unknown>;
  const groupId = str(project['groupId']) ?? str(parent['groupId']);
  const artifactId = str(project['artifactId']);
  const version = str(project['version']) ?? str(parent['version']);
  if (groupId === null || artifactId === null || version === null || [groupId, artifactId, version].some((v) => v.startsWith('${'))) {
    return { error: `The provided POM file is invalid.  Could not retrieve valid G:A:V parameters (${groupId}:${artifactId}:${version})` };
  }
  return { groupId, artifactId, version };
}

const versionPolicyMismatch = (policy: string, path: string) =>
  `Version policy mismatch, cannot upload ${policy === 'RELEASE' ? 'SNAPSHOT' : 'RELEASE'} content to ${policy} repositories for file '${path.slice(1)}'`;

function policyAllows(repo: RepositoryState, snapshot: boolean): boolean {
  const policy = repo.versionPolicy ?? 'RELEASE';
  return policy === 'MIXED' || (policy === 'SNAPSHOT') === snapshot;
}

function generatedPom(fields: Map<string, string>): Buffer {
  const packaging = fields.get('packaging');
  return Buffer.from(
    '<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">\n  <modelVersion>4.0.0</modelVersion>\n' +
      `  <groupId>${fields.get('groupId')}</groupId>\n  <artifactId>${fields.get('artifactId')}</artifactId>\n  <version>${fields.get('version')}</version>\n` +
      (packaging === undefined ? '' : `  <packaging>${packaging}</packaging>\n`) +
      '</project>\n',
  );
}

/** The files of one upload at `<g>/<a>/<v>/<a>-<v>[-<classifier>].<extension>`, with their checksum files. */
function uploadWrites(ctx: FormatContext, repo: RepositoryState, gav: { groupId: string; artifactId: string; version: string }, files: { classifier?: string | undefined; extension: string; blob: StagedBlob }[]): FormatResult {
  const base = `/${gav.groupId.split('.').join('/')}/${gav.artifactId}/${gav.version}/${gav.artifactId}-${gav.version}`;
  const writes: AssetWrite[] = [];
  for (const { classifier, extension, blob } of files) {
    const path = normalisePath(`${base}${classifier ? `-${classifier}` : ''}.${extension}`);
    const layout = isValidAssetPath(path) ? layoutOf(path) : undefined;
    if (layout?.kind !== 'file') return { errors: [`Cannot generate maven coordinate from assembled path '${path.slice(1)}'`] };
    if (!policyAllows(repo, isSnapshot(layout.version))) return { errors: [versionPolicyMismatch(repo.versionPolicy ?? 'RELEASE', path)] };
    writes.push(fileWrite(path, layout, blob), ...checksumWrites(ctx.store, path, layout, blob));
  }
  for (const write of writes) fromUpload.add(write);
  return { writes };
}

async function upload(ctx: FormatContext, repo: RepositoryState, form: ParsedForm): Promise<FormatResult> {
  const { fields, assets } = componentUpload(form);
  const errors = validate(fields, assets);
  if (errors.length > 0) return { errors };
  if (repo.versionPolicy === 'SNAPSHOT') return { errors: ['Upload to snapshot repositories not supported, use the maven client.'] };
  const pom = assets.find(isPomAsset);
  const gav = pom === undefined ? { groupId: fields.get('groupId')!, artifactId: fields.get('artifactId')!, version: fields.get('version')! } : pomCoordinates(pom.blob);
  if ('error' in gav) return { errors: [gav.error] };
  const files = assets.map((a) => ({ classifier: a.fields.get('classifier'), extension: a.fields.get('extension')!, blob: a.blob }));
  const generate = fields.get('generate-pom');
  if (pom === undefined && (generate === 'true' || generate === 'on')) files.push({ classifier: undefined, extension: 'pom', blob: ctx.store.stageBuffer(generatedPom(fields)) });
  return uploadWrites(ctx, repo, gav, files);
}

/** The maven client's deploy: a file, a hash or metadata, stored as given. */
async function put(_ctx: FormatContext, repo: RepositoryState, rawPath: string, blob: StagedBlob): Promise<FormatResult> {
  const path = normalisePath(rawPath);
  if (rawPath.endsWith('/') || !isValidAssetPath(path)) return { errors: [`Invalid path: ${rawPath}`] };
  const layout = layoutOf(path);
  if (layout === undefined) return { errors: [`Not a Maven 2 layout path: ${path.slice(1)}`] };
  const snapshot = layout.kind === 'metadata' ? layout.snapshot : isSnapshot(layout.version);
  // Artifact-level metadata lists releases and snapshots alike: any repository takes it.
  if ((layout.kind === 'file' || layout.snapshot) && !policyAllows(repo, snapshot)) return { errors: [versionPolicyMismatch(repo.versionPolicy ?? 'RELEASE', path)] };
  if (layout.kind === 'metadata') return { writes: [{ path, blob, component: null, attributes: METADATA_ATTRIBUTES, redeployable: true }] };
  return { writes: [fileWrite(path, layout as GavFile, blob)] };
}

/** After an upload, Nexus rebuilds the artifact-level metadata of what it stored. */
function written(ctx: FormatContext, repo: RepositoryState, writes: readonly AssetWrite[]): void {
  const artifacts = new Set<string>();
  for (const write of writes) if (fromUpload.has(write) && write.component !== null) artifacts.add(`${write.component.group}\n${write.component.name}`);
  for (const artifact of artifacts) {
    const [groupId, artifactId] = artifact.split('\n') as [string, string];
    for (const write of artifactMetadataWrites(ctx.store, repo.name, groupId, artifactId)) ctx.store.writeAsset(repo.name, write, SEED_ACTOR);
  }
}

export const maven2Standin: StandinFormat = { format: 'maven2', uploadSpec: MAVEN2_UPLOAD_SPEC, upload, put, written };
