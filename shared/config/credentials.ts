/**
 * Credentials are named by the config, never written in it: an environment variable or a
 * file (a mounted secret). Reading them is deferred to start-up and errors name only the
 * variable or file, never a value.
 */
import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { CredentialError } from './errors.ts';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

export const credentialsSchema = z
  .strictObject({
    username: z.string().min(1).optional(),
    usernameEnv: envName.optional(),
    passwordEnv: envName.optional(),
    passwordFile: z.string().min(1).optional(),
    // Named so that the mistake gets its own message: a secret must not sit in the config text.
    password: z.never({ error: 'secrets are not accepted in the config: use passwordEnv (an environment variable) or passwordFile' }).optional(),
  })
  .superRefine((value, ctx) => {
    if (value.username !== undefined && value.usernameEnv !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['usernameEnv'], message: 'give either username or usernameEnv, not both' });
    }
    if (value.passwordEnv !== undefined && value.passwordFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: 'give either passwordEnv or passwordFile, not both' });
    }
    const hasUser = value.username !== undefined || value.usernameEnv !== undefined;
    const hasPassword = value.passwordEnv !== undefined || value.passwordFile !== undefined;
    if (hasUser !== hasPassword) {
      ctx.addIssue({ code: 'custom', path: [hasUser ? 'passwordEnv' : 'usernameEnv'], message: 'a username needs a password source (passwordEnv or passwordFile) and vice versa' });
    }
  });

export type CredentialsConfig = z.infer<typeof credentialsSchema>;

/**
 * The http(s) URL of a Nexus or registry. `user:password@` in it would be dropped by the
 * clients (and a password would sit in the config text), so it is refused; the message
 * names neither the URL nor any part of it.
 */
/** An http(s) URL that carries no `user:password@`: credentials are named, never written (`hint` says where). */
export function urlWithoutCredentials(hint: string) {
  return z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .refine((value) => {
      const url = URL.parse(value);
      return url === null || (url.username === '' && url.password === '');
    }, `must not carry credentials (user:password@): ${hint}`);
}

export const serviceUrlSchema = urlWithoutCredentials('use credentials (username or usernameEnv, with passwordEnv or passwordFile)');

export async function resolveCredentials(
  config: CredentialsConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
  resolvePath: (p: string) => string = (p) => p,
): Promise<{ username: string; password: string } | undefined> {
  if (config === undefined) return undefined;
  const username = config.username ?? (config.usernameEnv ? env[config.usernameEnv] : undefined);
  if (config.usernameEnv && !username) throw new CredentialError(`environment variable ${config.usernameEnv} (credentials.usernameEnv) is not set`);
  let password: string | undefined;
  if (config.passwordEnv) {
    password = env[config.passwordEnv];
    if (!password) throw new CredentialError(`environment variable ${config.passwordEnv} (credentials.passwordEnv) is not set`);
  } else if (config.passwordFile) {
    const file = resolvePath(config.passwordFile);
    try {
      password = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
    } catch (cause) {
      throw new CredentialError(`cannot read credentials.passwordFile ${file} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
    }
    if (!password) throw new CredentialError(`credentials.passwordFile ${file} is empty`);
  }
  if (username === undefined || password === undefined) return undefined;
  return { username, password };
}
