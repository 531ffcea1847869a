/**
 * What the CLI shows a person: plain lines when output is piped or logged, progress bars
 * when a terminal is attached. The core only emits events through {@link Log} and
 * progress callbacks; this file decides how they look.
 */
import { SingleBar, Presets } from 'cli-progress';
import type { Log, LogFields } from '../shared/core/log.ts';

export interface Output {
  log: Log;
  /** A bar on a TTY, occasional lines otherwise. Returns an updater and a finisher. */
  progress(label: string, total: number): { update(done: number, total?: number): void; stop(): void };
  line(text: string): void;
}

export function makeOutput(options: { verbose?: boolean; json?: boolean; stream?: NodeJS.WriteStream } = {}): Output {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true && !process.env.CI;
  let activeBar: SingleBar | undefined;
  const write = (text: string) => {
    if (activeBar) activeBar.stop();
    stream.write(`${text}\n`);
  };
  const fmt = (level: string, message: string, fields?: LogFields) =>
    options.verbose && fields && Object.keys(fields).length > 0 ? `${level}${message} ${JSON.stringify(fields)}` : `${level}${message}`;
  const log: Log = {
    info: (m, f) => write(fmt('', m, f)),
    warn: (m, f) => write(fmt('warning: ', m, f)),
    error: (m, f) => write(fmt('error: ', m, f)),
    debug: (m, f) => {
      if (options.verbose) write(fmt('debug: ', m, f));
    },
  };
  return {
    log,
    line: (text) => process.stdout.write(`${text}\n`),
    progress(label, total) {
      if (tty) {
        const bar = new SingleBar({ format: `${label} [{bar}] {value}/{total}`, stream, hideCursor: true }, Presets.shades_classic);
        bar.start(total, 0);
        activeBar = bar;
        return {
          update: (done, newTotal) => {
            if (newTotal !== undefined && newTotal !== total) bar.setTotal(newTotal);
            bar.update(done);
          },
          stop: () => {
            bar.stop();
            activeBar = undefined;
          },
        };
      }
      // Without a terminal: a line at most every 10% so logs stay readable.
      let lastTenth = -1;
      return {
        update: (done, newTotal) => {
          const t = newTotal ?? total;
          const tenth = t > 0 ? Math.floor((done / t) * 10) : 0;
          if (tenth !== lastTenth && t > 0) {
            lastTenth = tenth;
            stream.write(`${label}: ${done}/${t}\n`);
          }
        },
        stop: () => {},
      };
    },
  };
}
