/**
 * The `serve:` section of the export config: where `ferry serve` listens for Nexus webhooks,
 * how often it scans and seals, and where the webhook secret comes from. Like every
 * credential, the secret is named (an environment variable or a file), never written here.
 */
import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { CredentialError } from './errors.ts';

export const DEFAULT_LISTEN = '127.0.0.1:8650';
export const DEFAULT_WEBHOOK_SECRET_ENV = 'FERRY_WEBHOOK_SECRET';

export interface ListenAddress {
  host: string;
  port: number;
}

const LISTEN = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** `127.0.0.1:8650`, `[::1]:8650`, `0.0.0.0:0` (any free port); undefined when it is none of these. */
export function parseListenAddress(value: string): ListenAddress | undefined {
  const match = LISTEN.exec(value.trim());
  if (match === null) return undefined;
  const port = Number(match[2]);
  if (port > 65_535) return undefined;
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

const LISTEN_PROBLEM = 'expected host:port, e.g. 127.0.0.1:8650 or [::1]:8650';

export const listenSchema = z.string().transform((value, ctx) => {
  const address = parseListenAddress(value);
  if (address === undefined) {
    ctx.addIssue({ code: 'custom', message: LISTEN_PROBLEM });
    return z.NEVER;
  }
  return address;
});

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

export const serveConfigSchema = z
  .strictObject({
    /** host:port of the webhook, health and metrics listener. */
    listen: listenSchema.default(parseListenAddress(DEFAULT_LISTEN)!),
    /** The safety-net scan (webhooks are lossy: Nexus never retries a delivery). */
    scanIntervalSeconds: z.number().int().min(1).default(900),
    /** How often pending entries are sealed into a bundle. */
    sealIntervalSeconds: z.number().int().min(1).default(3600),
    webhook: z
      .strictObject({
        secretEnv: envName.default(DEFAULT_WEBHOOK_SECRET_ENV),
        secretFile: z.string().min(1).optional(),
        // Named so that the mistake gets its own message: a secret must not sit in the config text.
        secret: z.never({ error: 'secrets are not accepted in the config: use secretEnv (an environment variable) or secretFile' }).optional(),
      })
      .prefault({}),
  })
  .prefault({});

export type ServeConfig = z.output<typeof serveConfigSchema>;

/** `--listen` on the command line: the same grammar, as a usage problem. */
export function listenProblem(value: string): string | undefined {
  return parseListenAddress(value) === undefined ? `--listen: ${LISTEN_PROBLEM}, got ${JSON.stringify(value)}` : undefined;
}

/**
 * The webhook secret: from `file` when one is named (the command line's or the config's),
 * else from the environment variable. Errors name the variable or file, never a value.
 */
export async function resolveWebhookSecret(
  webhook: ServeConfig['webhook'],
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (file !== undefined) {
    let secret: string;
    try {
      secret = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
    } catch (cause) {
      throw new CredentialError(`cannot read the webhook secret file ${file} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
    }
    if (secret === '') throw new CredentialError(`the webhook secret file ${file} is empty`);
    return secret;
  }
  const secret = env[webhook.secretEnv];
  if (secret === undefined || secret === '') {
    throw new CredentialError(
      `environment variable ${webhook.secretEnv} (serve.webhook.secretEnv) is not set: ferry serve needs the secret Nexus signs webhooks with (or --webhook-secret-file)`,
    );
  }
  return secret;
}
