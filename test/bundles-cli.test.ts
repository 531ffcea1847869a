/**
 * `ferry bundles list|download` against fauxqs (the shared S3 emulator): listing with the
 * sha256 S3 knows, verified downloads, resuming a partial `.part`, refusing a corrupted one,
 * and pre-signed URLs a plain fetch can use. The real CLI runs as a child process, pointed at
 * the emulator by the SDK's own `AWS_ENDPOINT_URL_S3`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { makeS3Client } from './support/emulators.ts';
import { content, runFerry } from './support/world.ts';

const bucket = `ferry-bundles-cli-${randomUUID().slice(0, 8)}`;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Three bundles: sha256 in metadata (as Ferry writes it), in S3's SHA-256 checksum, and in neither. */
const withMetadata = { name: 'corp-nexus-000001.tar', data: content('bundle-1', 3 * 1024 * 1024 + 17) };
const withChecksum = { name: 'corp-nexus-000002.tar', data: content('bundle-2', 256 * 1024) };
const withNothing = { name: 'corp-nexus-000003.tar', data: content('bundle-3', 64 * 1024) };

let s3: S3Client;
let env: NodeJS.ProcessEnv;
let dir: string;

beforeAll(async () => {
  const endpoint = inject('awsEndpoint');
  s3 = makeS3Client(endpoint);
  dir = await mkdtemp(path.join(tmpdir(), 'ferry-bundles-cli-'));
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `bundles/${withMetadata.name}`, Body: withMetadata.data, Metadata: { sha256: sha256(withMetadata.data) } }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `bundles/${withChecksum.name}`, Body: withChecksum.data, ChecksumAlgorithm: 'SHA256' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `bundles/${withNothing.name}`, Body: withNothing.data }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'blobs/sha256/not-a-bundle', Body: 'x' }));
  env = {
    PATH: process.env.PATH,
    HOME: dir,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'ferrytest',
    AWS_SECRET_ACCESS_KEY: 'ferrytest',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
});

afterAll(async () => {
  s3?.destroy();
  await rm(dir, { recursive: true, force: true });
});

const download = (out: string, ...names: string[]) => runFerry(['bundles', 'download', '--bucket', bucket, '--out', out, ...names], env);

describe('ferry bundles list', () => {
  it('lists the bundles under bundles/ with size, last modified and the sha256 S3 holds', async () => {
    // Prepare
    const args = ['bundles', 'list', '--bucket', bucket, '--json'];
    // Act
    const run = await runFerry(args, env);
    // Assess
    expect(run.code, run.stderr).toBe(0);
    const listing = JSON.parse(run.stdout) as { name: string; size: number; lastModified: string; sha256: string | null; sha256Source: string | null }[];
    expect(listing.map((l) => l.name)).toEqual([withMetadata.name, withChecksum.name, withNothing.name]);
    expect(listing.map((l) => l.size)).toEqual([withMetadata.data.length, withChecksum.data.length, withNothing.data.length]);
    expect(listing.map((l) => l.sha256)).toEqual([sha256(withMetadata.data), sha256(withChecksum.data), null]);
    expect(listing.map((l) => l.sha256Source)).toEqual(['x-amz-meta-sha256', 'ChecksumSHA256', null]);
    for (const l of listing) expect(Number.isNaN(Date.parse(l.lastModified))).toBe(false);
  });

  it('prints a table for people', async () => {
    // Prepare / Act
    const run = await runFerry(['bundles', 'list', '--bucket', bucket], env);
    // Assess
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+SIZE\s+LAST MODIFIED\s+SHA256$/);
    expect(lines[1]).toContain(withMetadata.name);
    expect(lines[1]).toContain(sha256(withMetadata.data));
    expect(lines).toHaveLength(4);
  });
});

describe('ferry bundles download', () => {
  it('downloads and verifies against x-amz-meta-sha256 and against the SHA-256 checksum', async () => {
    // Prepare
    const out = path.join(dir, 'verified');
    // Act
    const run = await download(out, withMetadata.name, withChecksum.name);
    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(path.join(out, withMetadata.name))).toEqual(withMetadata.data);
    expect(await readFile(path.join(out, withChecksum.name))).toEqual(withChecksum.data);
    expect(run.stdout).toContain(`${withMetadata.name}: 3.0 MiB downloaded, sha256 ${sha256(withMetadata.data)} verified (x-amz-meta-sha256)`);
    expect(run.stdout).toContain(`sha256 ${sha256(withChecksum.data)} verified (ChecksumSHA256)`);
    expect(existsSync(path.join(out, `${withMetadata.name}.part`))).toBe(false);
    expect(existsSync(path.join(out, `${withMetadata.name}.part.etag`))).toBe(false);
  });

  it('prints the sha256 of a bundle S3 has no sha256 for and says it was not verified', async () => {
    // Prepare
    const out = path.join(dir, 'unverified');
    // Act
    const run = await download(out, withNothing.name);
    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(path.join(out, withNothing.name))).toEqual(withNothing.data);
    expect(run.stdout).toContain(`sha256 ${sha256(withNothing.data)} NOT verified`);
  });

  it('resumes a partial .part with a Range request and ends with the same bytes', async () => {
    // Prepare: a finished download cut back to a partial one
    const out = path.join(dir, 'resume');
    expect((await download(out, withMetadata.name)).code).toBe(0);
    const file = path.join(out, withMetadata.name);
    await rename(file, `${file}.part`);
    await truncate(`${file}.part`, 1_000_003);
    // Act
    const run = await download(out, withMetadata.name);
    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`${withMetadata.name}: resuming at byte 1000003 of ${withMetadata.data.length}`);
    expect(run.stdout).toContain('verified (x-amz-meta-sha256)');
    expect(await readFile(file)).toEqual(withMetadata.data);
    expect(existsSync(`${file}.part`)).toBe(false);
  });

  it('finishes a .part that already holds every byte without downloading again', async () => {
    // Prepare
    const out = path.join(dir, 'complete-part');
    await download(out, withChecksum.name);
    const file = path.join(out, withChecksum.name);
    await rename(file, `${file}.part`);
    // Act
    const run = await download(out, withChecksum.name);
    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`resuming at byte ${withChecksum.data.length} of ${withChecksum.data.length}`);
    expect(await readFile(file)).toEqual(withChecksum.data);
  });

  it('refuses a corrupted .part: the sha256 does not match, nothing is renamed and the .part is removed', async () => {
    // Prepare: right length, wrong bytes in the kept prefix
    const out = path.join(dir, 'corrupt');
    await download(out, withMetadata.name);
    const file = path.join(out, withMetadata.name);
    await rm(file);
    const bad = Buffer.from(withMetadata.data.subarray(0, 2_000_000));
    bad[12345] = bad[12345]! ^ 0xff;
    await writeFile(`${file}.part`, bad);
    // Act
    const run = await download(out, withMetadata.name);
    // Assess
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`${withMetadata.name}: refused, .*sha256 mismatch \\(expected ${sha256(withMetadata.data)}, got [0-9a-f]{64}\\)`));
    expect(run.stderr).toContain('run again to download from scratch');
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.part`)).toBe(false);
    // …and the next run downloads it cleanly.
    const again = await download(out, withMetadata.name);
    expect(again.code, again.stderr).toBe(0);
    expect(await readFile(file)).toEqual(withMetadata.data);
  });

  it('starts over when the object changed since the .part was started (recorded ETag differs)', async () => {
    // Prepare
    const out = path.join(dir, 'changed');
    await download(out, withMetadata.name);
    const file = path.join(out, withMetadata.name);
    await rename(file, `${file}.part`);
    await truncate(`${file}.part`, 4096);
    await writeFile(`${file}.part.etag`, '"0123456789abcdef0123456789abcdef"\n');
    // Act
    const run = await download(out, withMetadata.name);
    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('the object changed since');
    expect(await readFile(file)).toEqual(withMetadata.data);
  });

  it('names a bundle that does not exist and exits 1, after downloading the others', async () => {
    // Prepare
    const out = path.join(dir, 'missing');
    // Act
    const run = await download(out, 'corp-nexus-000099.tar', withChecksum.name);
    // Assess
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`s3://${bucket}/bundles/corp-nexus-000099.tar: no such bundle`);
    expect(await readFile(path.join(out, withChecksum.name))).toEqual(withChecksum.data);
  });

  it('rejects a name that would escape the output directory as bad usage (exit 2)', async () => {
    // Prepare / Act
    const run = await download(path.join(dir, 'escape'), '../etc/passwd');
    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('bundle name "../etc/passwd"');
  });

  it('--presign prints a URL that a plain fetch can GET', async () => {
    // Prepare
    const args = ['bundles', 'download', '--bucket', bucket, '--presign', '--expires', '600', withMetadata.name];
    // Act
    const run = await runFerry(args, env);
    const url = run.stdout.trim();
    const response = await fetch(url);
    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(url).toMatch(/X-Amz-Expires=600/);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(withMetadata.data);
  });
});
