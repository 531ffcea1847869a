/**
 * The Node.js binaries the executables are made of: the registry's `node-linux-<arch>` packages
 * at the version of the `node` devDependency (the Node that runs the build, so the SEA blob and
 * the binary agree). `npm pack` fetches them, so the user's npm config (registry mirror, proxy,
 * auth) applies; each tarball must match the integrity pinned below before anything is taken
 * from it, and is kept under node_modules/.cache/ferry-exe for the next build.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { NodeBinaryError } from './errors.ts';

export type Arch = 'x64' | 'arm64';
export const ARCHES: readonly Arch[] = ['x64', 'arm64'];

/**
 * `npm view node-linux-<arch>@<version> dist.integrity`, recorded when the version was pinned:
 * a registry (or mirror) serving other bytes later is refused, as a lockfile would. Moving the
 * `node` devDependency to another version means adding its two lines here.
 */
const PINNED_INTEGRITY: Record<string, Record<Arch, string>> = {
  '24.21.0': {
    x64: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
    arm64: 'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==',
  },
};

/** The binary inside each package tarball. */
const BINARY_MEMBER = 'package/bin/node';

/** The `node` devDependency's version: the executables run exactly the Node the project pins. */
export async function pinnedNodeVersion(repoRoot: string): Promise<string> {
  const manifest = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  const version = manifest.devDependencies?.node;
  if (version === undefined || !/^\d+\.\d+\.\d+$/.test(version)) {
    throw new NodeBinaryError(`package.json: devDependencies.node must be an exact version, got ${JSON.stringify(version)}`);
  }
  return version;
}

/**
 * Writes the `node` binary of `node-linux-<arch>@<version>` to `<workDir>/node-linux-<arch>`
 * (mode 0755) and returns its path; fetches and checks the tarball first when not cached.
 */
export async function extractNodeBinary(arch: Arch, version: string, cacheDir: string, workDir: string): Promise<string> {
  const tarball = await cachedTarball(arch, version, cacheDir);
  const out = path.join(workDir, `node-linux-${arch}`);
  let found = false;
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    if (header.name !== BINARY_MEMBER) {
      stream.on('end', next);
      stream.resume();
      return;
    }
    found = true;
    pipeline(stream, createWriteStream(out, { mode: 0o755 })).then(() => next(), next);
  });
  await pipeline(createReadStream(tarball), createGunzip(), extract);
  if (!found) throw new NodeBinaryError(`${path.basename(tarball)}: no ${BINARY_MEMBER} in the package`);
  await chmod(out, 0o755);
  return out;
}

/** The checked tarball in the cache; a cached file that no longer matches is fetched again. */
async function cachedTarball(arch: Arch, version: string, cacheDir: string): Promise<string> {
  const spec = `node-linux-${arch}@${version}`;
  const integrity = PINNED_INTEGRITY[version]?.[arch];
  if (integrity === undefined) {
    throw new NodeBinaryError(
      `${spec}: no pinned integrity; add \`npm view ${spec} dist.integrity\` to PINNED_INTEGRITY in scripts/exe/node-binaries.ts`,
    );
  }
  const file = path.join(cacheDir, `node-linux-${arch}-${version}.tgz`);
  if ((await exists(file)) && (await integrityOf(file)) === integrity) return file;
  await mkdir(cacheDir, { recursive: true });
  // A private download directory, renamed into place once checked: parallel builds never
  // read a half-written or unchecked tarball.
  const download = await mkdtemp(path.join(cacheDir, '.pack-'));
  try {
    await npmPack(spec, download);
    const fetched = path.join(download, path.basename(file));
    const actual = await integrityOf(fetched);
    if (actual !== integrity) throw new NodeBinaryError(`${spec}: the registry sent ${actual}, pinned is ${integrity}; refusing it`);
    await rename(fetched, file);
    return file;
  } finally {
    await rm(download, { recursive: true, force: true });
  }
}

function npmPack(spec: string, destination: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['pack', spec, '--pack-destination', destination, '--prefer-offline', '--silent'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (error) => reject(new NodeBinaryError(`npm pack ${spec}: cannot run npm`, { cause: error })));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new NodeBinaryError(`npm pack ${spec}: exit ${code}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' / ')}` : ''}`));
    });
  });
}

/** The file's Subresource Integrity string (`sha512-<base64>`), as the registry records it. */
async function integrityOf(file: string): Promise<string> {
  const hash = createHash('sha512');
  await pipeline(createReadStream(file), hash);
  return `sha512-${hash.digest('base64')}`;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
