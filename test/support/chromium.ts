/**
 * Debian's chromium, driven headless from the command line (no download, no driver): the
 * DOM a page renders to, and a screenshot of it. Each run gets a fresh profile directory and
 * none of chromium's own network chatter (updates, sync, QUIC), as the machine is offline.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function runChromium(args: string[], page: string): Promise<string> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is not installed: run \`sudo apt-get install -y chromium\` (or npm run system-deps)`);
  const profile = await mkdtemp(path.join(tmpdir(), 'ferry-chromium-'));
  try {
    return await new Promise<string>((resolve, reject) => {
      const child = spawn(CHROMIUM, [...FLAGS, `--user-data-dir=${profile}`, ...args, pathToFileURL(page).href], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(stdout);
        else reject(new Error(`chromium ${args[0]} ${page} failed (${code ?? signal}):\n${stderr.slice(-2000)}`));
      });
    });
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

/** The page's DOM after chromium parsed and laid it out, serialised. */
export function dumpDom(page: string): Promise<string> {
  return runChromium(['--dump-dom'], page);
}

/** A PNG of the page at `width`×`height` CSS pixels, written to `png`. */
export async function screenshot(page: string, png: string, width: number, height: number): Promise<void> {
  await runChromium([`--screenshot=${png}`, `--window-size=${width},${height}`, '--hide-scrollbars'], page);
}
