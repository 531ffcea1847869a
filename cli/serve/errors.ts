/** Errors of `ferry serve` itself (the listener and its loops); the CLI exits 1 on each. */
import { FerryError } from '../../shared/errors.ts';

export class ServeError extends FerryError {
  override readonly name: string = 'ServeError';
}

/** The listener could not bind its address (in use, not an address of this machine, not permitted). */
export class ListenError extends ServeError {
  override readonly name = 'ListenError';
  constructor(host: string, port: number, options: { cause: unknown }) {
    const code = (options.cause as NodeJS.ErrnoException | undefined)?.code ?? 'error';
    super(`cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port} (${code})`, options);
  }
}

/** A loop of the server stopped on an error it cannot carry on after (the state file failing, say). */
export class ServeLoopError extends ServeError {
  override readonly name = 'ServeLoopError';
  constructor(loop: 'copy' | 'schedule', options: { cause: unknown }) {
    super(`the ${loop} loop stopped: ${(options.cause as Error)?.message ?? String(options.cause)}`, options);
  }
}
