/**
 * What the CLI shows a person: plain lines when output is piped or logged, progress bars
 * when a terminal is attached (progress.ts draws them). The core only emits events through
 * {@link Log} and progress callbacks; this file decides how they look.
 */
import type { Log, LogFields } from '../shared/core/log.ts';
import { drawsBars, plainProgress, TerminalBars, type Progress, type ProgressOptions } from './progress.ts';

export type { Progress, ProgressOptions } from './progress.ts';

export interface Output {
  log: Log;
  /** A bar on a terminal, a plain line now and then otherwise; in bytes with `{ bytes: true }`. */
  progress(label: string, total: number, options?: ProgressOptions): Progress;
  line(text: string): void;
}

export function makeOutput(options: { verbose?: boolean; json?: boolean; stream?: NodeJS.WriteStream } = {}): Output {
  const stream = options.stream ?? process.stderr;
  const bars = drawsBars(stream) ? new TerminalBars(stream) : undefined;
  // On a terminal a line logged while a bar is drawn goes above the bar.
  const write = (text: string) => (bars ? bars.log(text) : stream.write(`${text}\n`));
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
    progress: (label, total, progressOptions) => (bars ? bars.start(label, total, progressOptions) : plainProgress(stream, label, total, progressOptions)),
  };
}
