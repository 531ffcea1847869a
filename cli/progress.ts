/**
 * How progress looks. On a terminal: one bar at a time at the bottom (cli-progress), in bytes
 * or in items, with the rate and the time left worked out over the last few seconds, and the
 * lines logged meanwhile written above it. Anywhere else: a plain line now and then, never a
 * `\r` or an escape sequence, so logs and pipes stay readable.
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { formatBytes, formatDuration } from './units.ts';

export interface Progress {
  /** `done` so far; `total` when it changed; `note` follows the numbers (e.g. `3/40 tasks`). */
  update(done: number, total?: number, note?: string): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Count bytes (shown as KiB, MiB…, with a rate per second) instead of items. */
  bytes?: boolean;
}

/**
 * Bars only on a terminal that can draw them: not when the stream is piped or a file, not
 * under CI (logs), not on `TERM=dumb`. Nothing here is coloured, so `NO_COLOR` changes nothing.
 */
export function drawsBars(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI !== undefined && !['', '0', 'false'].includes(env.CI.toLowerCase());
  return stream.isTTY === true && !ci && env.TERM !== 'dumb';
}

/** Rate over the samples of the last few seconds: a stall or a burst shows within them. */
export class Throughput {
  readonly #samples: { at: number; value: number }[] = [];
  readonly windowMs: number;
  constructor(windowMs = 5000) {
    this.windowMs = windowMs;
  }

  sample(at: number, value: number): void {
    this.#samples.push({ at, value });
    while (this.#samples.length > 2 && at - this.#samples[0]!.at > this.windowMs) this.#samples.shift();
  }

  /** Units per second, or undefined until the samples span half a second. */
  perSecond(): number | undefined {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (first === undefined || last === undefined || last.at - first.at < 500) return undefined;
    return ((last.value - first.value) * 1000) / (last.at - first.at);
  }
}

const amountOf = (n: number, bytes: boolean) => (bytes ? formatBytes(n) : String(Math.round(n)));

/** The numbers after a bar or in a plain line: `12.3 MiB/1.0 GiB`, then the rate and ETA when asked. */
export function progressText(state: { done: number; total: number; bytes: boolean; note: string }, rate?: { perSecond: number | undefined; finishedIn?: number }): string {
  const { done, total, bytes, note } = state;
  const parts = [`${amountOf(done, bytes)}/${amountOf(total, bytes)}`];
  if (rate !== undefined) {
    const { perSecond, finishedIn } = rate;
    parts.push(perSecond === undefined ? `-- ${bytes ? 'B' : 'items'}/s` : `${bytes ? formatBytes(perSecond) : perSecond.toFixed(1)}/s`);
    if (finishedIn !== undefined) parts.push(`in ${formatDuration(finishedIn)}`);
    else parts.push(`ETA ${perSecond === undefined || perSecond <= 0 ? '--' : formatDuration(Math.max(0, total - done) / perSecond)}`);
  }
  if (note !== '') parts.push(note);
  return parts.join(' ');
}

/**
 * The terminal's bars: at most one drawn at a time. While one is drawn, `log` writes above it;
 * otherwise straight to the stream.
 */
export class TerminalBars {
  readonly #stream: NodeJS.WriteStream;
  #multi: MultiBar | undefined;
  #stopActive: (() => void) | undefined;

  constructor(stream: NodeJS.WriteStream) {
    this.#stream = stream;
  }

  log(text: string): void {
    if (this.#multi !== undefined) this.#multi.log(`${text}\n`);
    else this.#stream.write(`${text}\n`);
  }

  start(label: string, total: number, options: ProgressOptions = {}): Progress {
    this.#stopActive?.();
    const bytes = options.bytes === true;
    const state = { done: 0, total, bytes, note: '' };
    const throughput = new Throughput();
    const started = Date.now();
    const { shown, barsize } = fit(label, this.#stream.columns);
    const multi = new MultiBar({ stream: this.#stream, format: `${shown} [{bar}] {numbers}`, barsize, hideCursor: false }, Presets.shades_classic);
    const bar: SingleBar = multi.create(Math.max(total, 1), 0, { numbers: progressText(state, { perSecond: undefined }) });
    // Before every redraw (10 a second): a sample, and the numbers worked out again, so a stall shows.
    const refresh = () => {
      throughput.sample(Date.now(), state.done);
      bar.setTotal(Math.max(state.total, state.done, 1));
      bar.update(state.done, { numbers: progressText(state, { perSecond: throughput.perSecond() }) });
    };
    multi.on('update-pre', refresh);
    // A bar an error path never stopped must neither keep the process alive nor leave the
    // terminal without line wrapping: its redraw timer is unref'd, and exit stops it.
    const unref = () => (multi as unknown as { timer: NodeJS.Timeout | null }).timer?.unref();
    multi.on('update-post', unref);
    unref();
    this.#multi = multi;
    const stop = () => {
      if (this.#multi !== multi) return;
      process.off('exit', stop);
      multi.off('update-pre', refresh);
      const seconds = (Date.now() - started) / 1000;
      bar.setTotal(Math.max(state.total, state.done, 1));
      bar.update(state.done, { numbers: progressText(state, { perSecond: seconds > 0 ? state.done / seconds : undefined, finishedIn: seconds }) });
      multi.update(); // writes what was logged since the last redraw
      multi.stop();
      this.#multi = undefined;
      this.#stopActive = undefined;
    };
    this.#stopActive = stop;
    process.once('exit', stop);
    return {
      update: (done, newTotal, note) => {
        state.done = done;
        if (newTotal !== undefined) state.total = newTotal;
        if (note !== undefined) state.note = note;
      },
      stop,
    };
  }
}

/** Room kept for the numbers after the bar: `123.4 MiB/1.0 GiB 45.6 MiB/s ETA 12m05s 120/400 entries`. */
const NUMBERS_WIDTH = 55;

/**
 * Keeps the numbers on the line: the bar narrows first (to 10), then a label longer than the
 * rest leaves room for is cut in the middle.
 */
function fit(label: string, columns: number | undefined): { shown: string; barsize: number } {
  const width = columns ?? 120;
  const room = Math.max(16, width - 10 - 3 - NUMBERS_WIDTH);
  const half = Math.floor((room - 1) / 2);
  const shown = label.length <= room ? label : `${label.slice(0, half)}…${label.slice(label.length - (room - 1 - half))}`;
  return { shown, barsize: Math.min(30, Math.max(10, width - shown.length - 3 - NUMBERS_WIDTH)) };
}

/** Without a terminal: a line at each tenth of the way (so logs stay short), and one at the end. */
export function plainProgress(stream: NodeJS.WritableStream, label: string, total: number, options: ProgressOptions = {}): Progress {
  const state = { done: 0, total, bytes: options.bytes === true, note: '' };
  let lastTenth = -1;
  let lastLine = '';
  const line = () => {
    lastLine = `${label}: ${progressText(state)}`;
    stream.write(`${lastLine}\n`);
  };
  return {
    update: (done, newTotal, note) => {
      state.done = done;
      if (newTotal !== undefined) state.total = newTotal;
      if (note !== undefined) state.note = note;
      const tenth = state.total > 0 ? Math.floor((Math.min(done, state.total) / state.total) * 10) : -1;
      if (tenth > lastTenth) {
        lastTenth = tenth;
        line();
      }
    },
    stop: () => {
      if (state.done > 0 && lastLine !== `${label}: ${progressText(state)}`) line();
    },
  };
}
