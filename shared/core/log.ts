/**
 * The core reports through this narrow interface so that the CLI can print lines or drive
 * progress bars, and the Lambdas can hand it to Powertools Logger, without the core
 * knowing which.
 */
export type LogFields = Record<string, unknown>;

export interface Log {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
}

export const silentLog: Log = { info() {}, warn() {}, error() {}, debug() {} };
