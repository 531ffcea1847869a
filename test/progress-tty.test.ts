/**
 * Progress as a person sees it: the built CLI in a real terminal (tmux) draws a bar in bytes
 * with the rate and the time left while export, import and bundle download run, and leaves
 * the finished bar on the screen; the same command piped writes plain lines only. A slow
 * link (test/support/slow-link.ts) in front of the Nexus stand-in or S3 makes each transfer
 * last a few seconds, long enough to be watched.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { makeS3Client } from './support/emulators.ts';
import { startSlowLink } from './support/slow-link.ts';
import { runInTerminal, type TerminalRun } from './support/terminal.ts';
import { bundles, content, FERRY_CLI, makeWorld, runFerry, type FerryRun, type World } from './support/world.ts';

const MiB = 1024 * 1024;
/** 40 artifacts of 256 KiB: 10 MiB, 4 s over a 2.5 MiB/s link. */
const ARTIFACTS = 40;
const LINK_BYTES_PER_SECOND = 2.5 * MiB;

const AMOUNT = String.raw`(?:\d+ B|\d+\.\d [KMG]iB)`;
const DURATION = String.raw`(?:\d+s|\d+m\d\ds|\d+h\d\dm)`;
const ETA = `ETA ${DURATION}`;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A bar still moving: an amount short of the total, a rate and a time left. */
const movingBar = (label: string, total: string, note: string) => new RegExp(String.raw`^${escape(label)} \[[█░]+\] (${AMOUNT})/${escape(total)} ${AMOUNT}/s ${ETA}${note}$`, 'm');
/** The bar left on the screen: full, the mean rate and how long it took. */
const finishedBar = (label: string, total: string, note: string) => new RegExp(String.raw`^${escape(label)} \[█+\] ${escape(total)}/${escape(total)} ${AMOUNT}/s in ${DURATION}${note}$`, 'm');

/** The frames where `bar` was drawn short of `total`. */
function moving(run: TerminalRun, bar: RegExp, total: string): string[] {
  return run.frames.flatMap((frame) => {
    const drawn = bar.exec(frame);
    return drawn !== null && drawn[1] !== total ? [drawn[0]] : [];
  });
}

/** Piped output: lines only, no carriage return, no escape sequence. */
function expectPlain(run: FerryRun): void {
  expect(run.stderr + run.stdout).not.toMatch(/[\r\x1b]/);
}

/** What the CLI needs in a bare environment (`env -i`): no CI, so only the terminal decides. */
function cliEnv(world: World): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: world.dir, LANG: 'C.UTF-8', FERRY_SOURCE_PASSWORD: String(world.env.FERRY_SOURCE_PASSWORD) };
}

/** The world's environment for a piped run, without the CI variable makeWorld sets. */
function pipedEnv(world: World): NodeJS.ProcessEnv {
  const { CI: _ci, ...env } = world.env;
  return env;
}

async function seed(world: World): Promise<void> {
  for (let i = 0; i < ARTIFACTS; i++) world.source.putRawAsset('raw-a', `/big/a-${i}.bin`, content(`progress-${i}`, 256 * 1024));
}

/** Points one side of a config at another URL (a slow link in front of its Nexus). */
async function pointAt(configFile: string, side: 'source' | 'target', url: string): Promise<void> {
  const config = parse(await readFile(configFile, 'utf8')) as Record<'source' | 'target', { url: string }>;
  config[side].url = url;
  await writeFile(configFile, stringify(config));
}

describe('progress on a terminal and in a pipe', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const world = async () => {
    const made = await makeWorld();
    cleanups.push(() => made.close());
    await seed(made);
    return made;
  };
  const slowLink = async (url: string) => {
    const link = await startSlowLink(url, LINK_BYTES_PER_SECOND);
    cleanups.push(() => link.close());
    return link.url;
  };

  it('export draws the copy in bytes with rate and ETA, and leaves it full; piped, it writes plain lines', async () => {
    // Prepare: one world whose source is behind a slow link, one as it is
    const watched = await world();
    await pointAt(watched.exportConfig, 'source', await slowLink(watched.source.url));
    const piped = await world();

    // Act
    const terminal = await runInTerminal([process.execPath, FERRY_CLI, 'export', '--once', '--config', watched.exportConfig], { env: cliEnv(watched), cwd: watched.dir });
    const plain = await runFerry(['export', '--once', '--config', piped.exportConfig], pipedEnv(piped));

    // Assess
    expect(terminal.exitCode, terminal.screen).toBe(0);
    expect(moving(terminal, movingBar('copying', '10.0 MiB', String.raw` \d+/40 tasks`), '10.0 MiB').length, terminal.frames.join('\n---\n')).toBeGreaterThan(2);
    expect(terminal.screen).toMatch(finishedBar('copying', '10.0 MiB', ' 40/40 tasks'));
    expect(terminal.screen).toContain('sealed test-source-00000001.tar');
    expect(plain.code, plain.stderr).toBe(0);
    expectPlain(plain);
    expect(plain.stderr).toMatch(new RegExp(String.raw`^copying: ${AMOUNT}/10\.0 MiB \d+/40 tasks$`, 'm'));
    expect(plain.stderr).toMatch(/^copying: 10\.0 MiB\/10\.0 MiB 40\/40 tasks$/m);
  }, 120_000);

  it('import draws verification and upload in bytes with rate and ETA, and leaves both full; piped, it writes plain lines', async () => {
    // Prepare: bundles exported quickly; one target behind a slow link, one as it is
    const watched = await world();
    const piped = await world();
    for (const w of [watched, piped]) expect((await runFerry(['export', '--once', '--config', w.exportConfig], w.env)).code).toBe(0);
    await pointAt(watched.importConfig, 'target', await slowLink(watched.target.url));
    const [watchedBundle] = await bundles(watched);
    const [pipedBundle] = await bundles(piped);

    // Act
    const terminal = await runInTerminal([process.execPath, FERRY_CLI, 'import', '--config', watched.importConfig, watchedBundle!], { env: cliEnv(watched), cwd: watched.dir });
    const plain = await runFerry(['import', '--config', piped.importConfig, pipedBundle!], pipedEnv(piped));

    // Assess
    const label = 'importing test-source-00000001.tar';
    expect(terminal.exitCode, terminal.screen).toBe(0);
    expect(moving(terminal, movingBar(label, '10.0 MiB', String.raw` \d+/40 entries`), '10.0 MiB').length, terminal.frames.join('\n---\n')).toBeGreaterThan(2);
    expect(terminal.screen).toMatch(finishedBar('verifying test-source-00000001.tar', '10.0 MiB', ''));
    expect(terminal.screen).toMatch(finishedBar(label, '10.0 MiB', ' 40/40 entries'));
    expect(watched.target.assetPaths('raw-a')).toHaveLength(ARTIFACTS);
    expect(plain.code, plain.stderr).toBe(0);
    expectPlain(plain);
    expect(plain.stderr).toMatch(/^verifying test-source-00000001\.tar: 10\.0 MiB\/10\.0 MiB$/m);
    expect(plain.stderr).toMatch(new RegExp(String.raw`^${label}: ${AMOUNT}/10\.0 MiB \d+/40 entries$`, 'm'));
    expect(plain.stderr).toMatch(new RegExp(String.raw`^${label}: 10\.0 MiB/10\.0 MiB 40/40 entries$`, 'm'));
  }, 120_000);

  it('bundles download draws the download in bytes with rate and ETA; piped or under CI, it writes plain lines', async () => {
    // Prepare: an 8 MiB bundle in S3 (fauxqs), read through a slow link
    const endpoint = inject('awsEndpoint');
    const bucket = `ferry-progress-${randomUUID().slice(0, 8)}`;
    const name = 'corp-nexus-000001.tar';
    const data = content('progress-bundle', 8 * MiB);
    const s3 = makeS3Client(endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `bundles/${name}`, Body: data, Metadata: { sha256: createHash('sha256').update(data).digest('hex') } }));
    s3.destroy();
    const dir = await mkdtemp(path.join(tmpdir(), 'ferry-progress-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const aws = { PATH: process.env.PATH ?? '', HOME: dir, LANG: 'C.UTF-8', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'ferrytest', AWS_SECRET_ACCESS_KEY: 'ferrytest', AWS_EC2_METADATA_DISABLED: 'true' };
    const download = (out: string) => [process.execPath, FERRY_CLI, 'bundles', 'download', '--bucket', bucket, '--out', path.join(dir, out), name];

    // Act
    const terminal = await runInTerminal(download('watched'), { env: { ...aws, AWS_ENDPOINT_URL_S3: await slowLink(endpoint) }, cwd: dir });
    const underCi = await runInTerminal(download('ci'), { env: { ...aws, AWS_ENDPOINT_URL_S3: endpoint, CI: 'true' }, cwd: dir });
    const plain = await runFerry(download('piped').slice(2), { ...aws, AWS_ENDPOINT_URL_S3: endpoint });

    // Assess
    const label = `downloading ${name}`;
    expect(terminal.exitCode, terminal.screen).toBe(0);
    expect(moving(terminal, movingBar(label, '8.0 MiB', ''), '8.0 MiB').length, terminal.frames.join('\n---\n')).toBeGreaterThan(2);
    expect(terminal.screen).toMatch(finishedBar(label, '8.0 MiB', ''));
    expect(terminal.screen).toContain(`${name}: 8.0 MiB downloaded, sha256`);
    expect(underCi.exitCode, underCi.screen).toBe(0);
    expect(underCi.screen).not.toMatch(/[█░]/);
    expect(underCi.screen).toMatch(new RegExp(String.raw`^${label}: 8\.0 MiB/8\.0 MiB$`, 'm'));
    expect(plain.code, plain.stderr).toBe(0);
    expectPlain(plain);
    expect(plain.stderr).toMatch(new RegExp(String.raw`^${label}: ${AMOUNT}/8\.0 MiB$`, 'm'));
    expect(plain.stderr).toMatch(new RegExp(String.raw`^${label}: 8\.0 MiB/8\.0 MiB$`, 'm'));
  }, 120_000);
});
