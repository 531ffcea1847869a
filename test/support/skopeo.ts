/**
 * The real skopeo CLI as an independent witness: what it reads from a registry is what
 * the registry holds, not what Ferry's client believes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTools } from './registry.ts';

export interface SkopeoCreds {
  username: string;
  password: string;
}

export interface SkopeoOptions {
  creds?: SkopeoCreds;
  timeoutMs?: number;
}

interface Run {
  stdout: Buffer;
  stderr: string;
}

async function skopeo(args: string[], timeoutMs = 60_000): Promise<Run> {
  requireTools('skopeo');
  // A private, empty auth file and policy: the user's own configuration must not leak in.
  const dir = await mkdtemp(join(tmpdir(), 'ferry-skopeo-'));
  try {
    const authFile = join(dir, 'auth.json');
    await writeFile(authFile, '{"auths":{}}');
    const policy = join(dir, 'policy.json');
    await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const env = { ...process.env, REGISTRY_AUTH_FILE: authFile, HOME: dir };
    return await new Promise<Run>((resolve, reject) => {
      execFile(
        '/usr/bin/skopeo',
        ['--policy', policy, ...args],
        { env, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs },
        (error, stdout, stderr) => {
          const text = stderr.toString('utf8').trim();
          if (error) {
            const shown = args.map((a, i) => (args[i - 1]?.endsWith('creds') ? '***' : a)).join(' ');
            reject(new Error(`skopeo ${shown} failed: ${text || error.message}`));
          } else {
            resolve({ stdout, stderr: text });
          }
        },
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function creds(flag: string, value: SkopeoCreds | undefined): string[] {
  return value === undefined ? [] : [flag, `${value.username}:${value.password}`];
}

/** Exact manifest bytes as the registry serves them (`ref` like `127.0.0.1:5000/repo:tag`). */
export async function skopeoInspectRaw(ref: string, options: SkopeoOptions = {}): Promise<Buffer> {
  const { stdout } = await skopeo(['inspect', '--raw', '--tls-verify=false', ...creds('--creds', options.creds), `docker://${ref}`], options.timeoutMs);
  return stdout;
}

/**
 * `skopeo copy` between two transports (`docker://…`, `oci:dir:tag`, …). All images of an
 * index are copied (`--all`); digests are preserved (no re-compression).
 */
export async function skopeoCopy(
  src: string,
  dest: string,
  options: { srcCreds?: SkopeoCreds; destCreds?: SkopeoCreds; all?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  await skopeo(
    [
      'copy',
      ...(options.all === false ? [] : ['--all']),
      '--preserve-digests',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      ...creds('--src-creds', options.srcCreds),
      ...creds('--dest-creds', options.destCreds),
      src,
      dest,
    ],
    options.timeoutMs,
  );
}

/** Exact manifest bytes through any transport skopeo knows (`oci-archive:<tar>:<ref>`, `oci:<dir>:<ref>`). */
export async function skopeoInspectRawAt(transportRef: string, options: SkopeoOptions = {}): Promise<Buffer> {
  const { stdout } = await skopeo(['inspect', '--raw', transportRef], options.timeoutMs);
  return stdout;
}
