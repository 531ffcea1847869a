/**
 * Maven fixtures: small poms and jars, a release seeded the way it is uploaded (one
 * component upload), a snapshot build seeded the way the maven client deploys it (PUT of
 * each file with its `.sha1`/`.md5`, then the version-level and the artifact-level
 * `maven-metadata.xml`), and Debian's `mvn` as the client that judges a target.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { zip } from '../nexus-standin/archives.ts';
import type { NexusStandin } from '../nexus-standin/index.ts';

export interface Gav {
  groupId: string;
  artifactId: string;
  version: string;
}

export const dirOf = ({ groupId, artifactId }: Omit<Gav, 'version'>) => `/${groupId.split('.').join('/')}/${artifactId}`;

export function pom({ groupId, artifactId, version }: Gav, options: { parent?: boolean } = {}): Buffer {
  const coordinates = options.parent
    ? `  <parent>\n    <groupId>${groupId}</groupId>\n    <artifactId>parent</artifactId>\n    <version>${version}</version>\n  </parent>\n  <artifactId>${artifactId}</artifactId>\n`
    : `  <groupId>${groupId}</groupId>\n  <artifactId>${artifactId}</artifactId>\n  <version>${version}</version>\n`;
  return Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">\n  <modelVersion>4.0.0</modelVersion>\n${coordinates}</project>\n`);
}

/** A real (stored) jar whose content differs per seed. */
export function jar(seed: string): Buffer {
  return zip([
    { name: 'META-INF/MANIFEST.MF', content: 'Manifest-Version: 1.0\r\nCreated-By: ferry-tests\r\n\r\n' },
    { name: `fixture/${seed.replace(/[^A-Za-z0-9]/g, '_')}.txt`, content: `content of ${seed}\n` },
  ]);
}

export interface SeedFile {
  classifier?: string;
  extension: string;
  content: Buffer;
}

/** One release component through the components API (as `POST /v1/components` would store it). */
export async function seedRelease(standin: NexusStandin, repository: string, gav: Gav, files: SeedFile[], lastModified?: Date): Promise<string[]> {
  const fields: Record<string, string> = { 'maven2.groupId': gav.groupId, 'maven2.artifactId': gav.artifactId, 'maven2.version': gav.version };
  const seedFiles = files.map((file, i) => {
    fields[`maven2.asset${i + 1}.extension`] = file.extension;
    if (file.classifier !== undefined) fields[`maven2.asset${i + 1}.classifier`] = file.classifier;
    return { field: `maven2.asset${i + 1}`, filename: `${gav.artifactId}.${file.extension}`, content: file.content };
  });
  return (await standin.seedUpload(repository, { fields, files: seedFiles }, lastModified === undefined ? undefined : { lastModified })).paths;
}

const hex = (algorithm: string, content: Buffer) => createHash(algorithm).update(content).digest('hex');

async function putWithSidecars(standin: NexusStandin, repository: string, filePath: string, content: Buffer): Promise<void> {
  await standin.seedPut(repository, filePath, content);
  await standin.seedPut(repository, `${filePath}.sha1`, hex('sha1', content));
  await standin.seedPut(repository, `${filePath}.md5`, hex('md5', content));
}

/**
 * One snapshot build as `mvn deploy` writes it: the files under `<x>-SNAPSHOT/` named with
 * `timestamp-build`, then the version-level metadata (this build only: the fixture keeps
 * one build per file set) and the artifact-level metadata listing `versions`.
 */
export async function seedSnapshot(
  standin: NexusStandin,
  repository: string,
  ga: Omit<Gav, 'version'>,
  build: { baseVersion: string; timestamp: string; buildNumber: number; versions: string[] },
  files: SeedFile[],
): Promise<string> {
  const version = `${build.baseVersion.replace(/-SNAPSHOT$/, '')}-${build.timestamp}-${build.buildNumber}`;
  const dir = `${dirOf(ga)}/${build.baseVersion}`;
  const updated = build.timestamp.replace('.', '');
  for (const file of files) await putWithSidecars(standin, repository, `${dir}/${ga.artifactId}-${version}${file.classifier ? `-${file.classifier}` : ''}.${file.extension}`, file.content);
  const snapshotVersions = files
    .map((f) => `      <snapshotVersion>\n${f.classifier ? `        <classifier>${f.classifier}</classifier>\n` : ''}        <extension>${f.extension}</extension>\n        <value>${version}</value>\n        <updated>${updated}</updated>\n      </snapshotVersion>\n`)
    .join('');
  const versionMetadata =
    `<?xml version="1.0" encoding="UTF-8"?>\n<metadata modelVersion="1.1.0">\n  <groupId>${ga.groupId}</groupId>\n  <artifactId>${ga.artifactId}</artifactId>\n  <version>${build.baseVersion}</version>\n` +
    `  <versioning>\n    <snapshot>\n      <timestamp>${build.timestamp}</timestamp>\n      <buildNumber>${build.buildNumber}</buildNumber>\n    </snapshot>\n    <lastUpdated>${updated}</lastUpdated>\n` +
    `    <snapshotVersions>\n${snapshotVersions}    </snapshotVersions>\n  </versioning>\n</metadata>\n`;
  await putWithSidecars(standin, repository, `${dir}/maven-metadata.xml`, Buffer.from(versionMetadata));
  const artifactMetadata =
    `<?xml version="1.0" encoding="UTF-8"?>\n<metadata>\n  <groupId>${ga.groupId}</groupId>\n  <artifactId>${ga.artifactId}</artifactId>\n  <versioning>\n` +
    `    <latest>${build.versions.at(-1)}</latest>\n    <versions>\n${build.versions.map((v) => `      <version>${v}</version>\n`).join('')}    </versions>\n    <lastUpdated>${updated}</lastUpdated>\n  </versioning>\n</metadata>\n`;
  await putWithSidecars(standin, repository, `${dirOf(ga)}/maven-metadata.xml`, Buffer.from(artifactMetadata));
  return version;
}

// ───────────────────────────── the maven client ─────────────────────────────

const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.5.0';
const DEBIAN_REPO = '/usr/share/maven-repo';
const INSTALL = 'apt-get install -y maven libmaven-dependency-plugin-java junit4 (or: npm run system-deps)';

/** Fails loudly, with the command that installs them, when Debian's maven and its dependency plugin are missing. */
export function requireMaven(): void {
  const missing = [
    ['/usr/bin/mvn', 'maven'],
    [`${DEBIAN_REPO}/org/apache/maven/plugins/maven-dependency-plugin/3.5.0`, 'libmaven-dependency-plugin-java'],
    [`${DEBIAN_REPO}/junit/junit/4.x`, 'junit4'],
  ].filter(([file]) => !existsSync(file!));
  if (missing.length > 0) throw new Error(`the maven judge needs ${missing.map(([, pkg]) => pkg).join(', ')}: ${INSTALL}`);
}

export interface MavenJudge {
  /** `mvn dependency:get -Dartifact=<g:a:v[:ext[:classifier]]>` against the repository; the resolved file's bytes. */
  get(artifact: string, file: string): Promise<{ code: number | null; output: string; content: Buffer | undefined }>;
}

/**
 * Debian's maven, offline: plugins from /usr/share/maven-repo (as `central`), artifacts
 * from one target repository with basic auth, checksums enforced (`checksumPolicy` fail:
 * every file and metadata document needs a matching `.sha1`/`.md5`).
 */
export async function mavenJudge(dir: string, repositoryUrl: string, credentials: { username: string; password: string }): Promise<MavenJudge> {
  requireMaven();
  await mkdir(dir, { recursive: true });
  const local = path.join(dir, 'm2');
  const policy = '<enabled>true</enabled><updatePolicy>always</updatePolicy><checksumPolicy>fail</checksumPolicy>';
  const settings = path.join(dir, 'settings.xml');
  await writeFile(
    settings,
    `<settings>\n  <localRepository>${local}</localRepository>\n` +
      `  <servers><server><id>target</id><username>${credentials.username}</username><password>${credentials.password}</password></server></servers>\n` +
      `  <mirrors><mirror><id>debian</id><mirrorOf>central</mirrorOf><url>file://${DEBIAN_REPO}</url></mirror></mirrors>\n` +
      `  <profiles><profile><id>judge</id>\n` +
      `    <repositories><repository><id>target</id><url>${repositoryUrl}</url><releases>${policy}</releases><snapshots>${policy}</snapshots></repository></repositories>\n` +
      `  </profile></profiles>\n  <activeProfiles><activeProfile>judge</activeProfile></activeProfiles>\n</settings>\n`,
  );
  return {
    async get(artifact, file) {
      const args = ['-B', '-s', settings, `${DEPENDENCY_PLUGIN}:get`, `-Dartifact=${artifact}`, '-Dtransitive=false'];
      const { code, output } = await run('mvn', args, dir);
      const resolved = path.join(local, file);
      return { code, output, content: existsSync(resolved) ? await readFile(resolved) : undefined };
    },
  };
}

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MAVEN_OPTS: '-Xshare:auto' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
