/**
 * A real terminal for tests: a detached tmux session (its own server, on a socket in a temp
 * directory, with no user configuration) runs one command; its screen is read with
 * `capture-pane` every 100 ms while it runs, and once more when it has exited.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const TMUX = '/usr/bin/tmux';
const EXITED = /^\[exited (\d+)\]$/m;

export interface TerminalRun {
  /** Every distinct screen seen while the command ran, in order (lines without trailing blanks). */
  frames: string[];
  /** The screen (and its scrollback) after the command exited. */
  screen: string;
  exitCode: number;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `command` in a `columns`×`rows` terminal with exactly `env` (plus the `TERM` tmux
 * sets), from `cwd`, and returns what the screen showed.
 */
export async function runInTerminal(command: string[], options: { env: Record<string, string>; cwd: string; columns?: number; rows?: number; timeoutMs?: number }): Promise<TerminalRun> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-tmux-'));
  const tmux = (...args: string[]) => run(TMUX, ['-u', '-S', path.join(dir, 'socket'), '-f', '/dev/null', ...args], { env: { PATH: process.env.PATH ?? '', HOME: dir, LANG: 'C.UTF-8' } });
  const script = path.join(dir, 'run.sh');
  const variables = Object.entries(options.env).map(([name, value]) => `${name}=${quote(value)}`);
  // The pane stays open after the command, showing its exit status, until the server is killed.
  await writeFile(script, [`cd ${quote(options.cwd)}`, `env -i TERM="$TERM" ${variables.join(' ')} ${command.map(quote).join(' ')}`, 'echo "[exited $?]"', 'exec sleep 600', ''].join('\n'));
  const capture = async () => (await tmux('capture-pane', '-p', '-S', '-', '-t', 'run')).stdout.split('\n').map((line) => line.trimEnd()).join('\n').trim();
  try {
    await tmux('new-session', '-d', '-x', String(options.columns ?? 120), '-y', String(options.rows ?? 30), '-s', 'run', `sh ${quote(script)}`);
    const frames: string[] = [];
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const screen = await capture();
      if (frames.at(-1) !== screen) frames.push(screen);
      const exited = EXITED.exec(screen);
      if (exited !== null) return { frames, screen, exitCode: Number(exited[1]) };
      if (Date.now() > deadline) throw new Error(`the command did not finish in time; the screen shows:\n${screen}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await tmux('kill-server').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
