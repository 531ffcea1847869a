/**
 * PyPI fixtures: wheels (`py3-none-any`, so pip takes them on any machine, with METADATA,
 * WHEEL and RECORD as pip expects), sdists (`.tar.gz`, or `.zip`), detached signatures, the
 * two ways a client uploads (the components API's `pypi.asset` and twine's upload API), and
 * pip as the judge of what a simple index serves.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { zip, tgz, type ArchiveEntry } from '../nexus-standin/archives.ts';

export interface DistFile {
  filename: string;
  content: Buffer;
}

export interface DistOptions {
  /** Varies the bytes without changing name or version (a rebuilt file). */
  payload?: string;
  summary?: string;
  requiresPython?: string;
}

/** PEP 427 / 625: the distribution name in a file name. */
const distName = (name: string) => name.replace(/[-_.]+/g, '_');

function metadata(name: string, version: string, options: DistOptions): string {
  const lines = ['Metadata-Version: 2.1', `Name: ${name}`, `Version: ${version}`, `Summary: ${options.summary ?? `The ${name} test package`}`];
  if (options.requiresPython !== undefined) lines.push(`Requires-Python: ${options.requiresPython}`);
  return `${lines.join('\n')}\n\n${name} is a package made for Ferry's tests.\n`;
}

const recordHash = (content: string) => createHash('sha256').update(content).digest('base64url');

/** A pure-Python wheel pip accepts anywhere. */
export function wheel(name: string, version: string, options: DistOptions = {}): DistFile {
  const dist = distName(name);
  const info = `${dist}-${version}.dist-info`;
  const files: { name: string; content: string }[] = [
    { name: `${dist.toLowerCase()}/__init__.py`, content: `VERSION = ${JSON.stringify(version)}\nPAYLOAD = ${JSON.stringify(options.payload ?? '')}\n` },
    { name: `${info}/METADATA`, content: metadata(name, version, options) },
    { name: `${info}/WHEEL`, content: 'Wheel-Version: 1.0\nGenerator: ferry-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n' },
  ];
  const record = [...files.map((f) => `${f.name},sha256=${recordHash(f.content)},${Buffer.byteLength(f.content)}`), `${info}/RECORD,,`].join('\n');
  return { filename: `${dist}-${version}-py3-none-any.whl`, content: zip([...files, { name: `${info}/RECORD`, content: `${record}\n` }]) };
}

function sdistEntries(name: string, version: string, options: DistOptions): ArchiveEntry[] {
  const base = `${distName(name).toLowerCase()}-${version}`;
  return [
    { name: `${base}/PKG-INFO`, content: metadata(name, version, options) },
    { name: `${base}/setup.py`, content: `from setuptools import setup\nsetup(name=${JSON.stringify(name)}, version=${JSON.stringify(version)})\n` },
    { name: `${base}/${distName(name).toLowerCase()}/__init__.py`, content: `PAYLOAD = ${JSON.stringify(options.payload ?? '')}\n` },
  ];
}

/** A source distribution, `<name>-<version>.tar.gz`. */
export async function sdist(name: string, version: string, options: DistOptions = {}): Promise<DistFile> {
  return { filename: `${distName(name).toLowerCase()}-${version}.tar.gz`, content: await tgz(sdistEntries(name, version, options)) };
}

/** A source distribution as a `.zip` (older setuptools on Windows made these). */
export function zipSdist(name: string, version: string, options: DistOptions = {}): DistFile {
  return { filename: `${distName(name).toLowerCase()}-${version}.zip`, content: zip(sdistEntries(name, version, options)) };
}

/** An ASCII-armoured detached signature's shape (not a real one: nothing here verifies it). */
export function signature(file: DistFile): Buffer {
  const body = createHash('sha512').update(file.content).digest('base64');
  return Buffer.from(`-----BEGIN PGP SIGNATURE-----\n\n${body.match(/.{1,64}/g)!.join('\n')}\n=ferr\n-----END PGP SIGNATURE-----\n`, 'utf8');
}

export const md5 = (content: Buffer) => createHash('md5').update(content).digest('hex');
export const sha256 = (content: Buffer) => createHash('sha256').update(content).digest('hex');

const authHeader = (auth: { username: string; password: string } | undefined): Record<string, string> =>
  auth === undefined ? {} : { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };

/** `POST /service/rest/v1/components?repository=R` with `pypi.asset`. */
export async function uploadAsset(base: string, repository: string, file: DistFile, auth?: { username: string; password: string }): Promise<Response> {
  const form = new FormData();
  form.set('pypi.asset', new Blob([new Uint8Array(file.content)]), file.filename);
  return fetch(`${base}/service/rest/v1/components?repository=${repository}`, { method: 'POST', body: form, headers: authHeader(auth) });
}

/** twine's upload (`POST /repository/R/`, `:action=file_upload`), with the signature as `gpg_signature` when given. */
export async function twineUpload(
  base: string,
  repository: string,
  upload: { name: string; version: string; file: DistFile; signature?: Buffer; fields?: Record<string, string> },
  auth?: { username: string; password: string },
): Promise<Response> {
  const form = new FormData();
  const fields = { ':action': 'file_upload', protocol_version: '1', name: upload.name, version: upload.version, md5_digest: md5(upload.file.content), ...upload.fields };
  for (const [key, value] of Object.entries(fields)) form.set(key, value);
  form.set('content', new Blob([new Uint8Array(upload.file.content)]), upload.file.filename);
  if (upload.signature !== undefined) form.set('gpg_signature', new Blob([new Uint8Array(upload.signature)]), `${upload.file.filename}.asc`);
  return fetch(`${base}/repository/${repository}/`, { method: 'POST', body: form, headers: authHeader(auth) });
}

/** Fails loudly, with the command that installs it, when the machine has no pip. */
export function requirePip(): void {
  const probe = spawnSync('python3', ['-m', 'pip', '--version'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    throw new Error('python3 -m pip is not available: run .ci/install-system-deps.sh (it installs python3 and python3-pip from Debian)');
  }
}

/**
 * `pip download --no-deps` of `requirements` from the index at `indexUrl` into `dest`. The
 * URL (which may carry credentials) goes to pip through its environment only, never on the
 * command line or into a message; pip redacts it in its own output.
 */
export function pipDownload(indexUrl: string, requirements: string[], dest: string): Promise<{ code: number | null; output: string }> {
  const env = {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    PIP_INDEX_URL: indexUrl,
    PIP_CONFIG_FILE: '/dev/null',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    PIP_NO_INPUT: '1',
    PIP_NO_CACHE_DIR: '1',
    PYTHONDONTWRITEBYTECODE: '1',
  };
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-m', 'pip', 'download', '--no-deps', '--dest', dest, ...requirements], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
