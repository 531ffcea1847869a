/**
 * Secrets Manager through Powertools Parameters (`SecretsProvider`): each value is cached
 * for `maxAgeSeconds`, a failure is not cached (the next read tries again). Errors name the
 * environment variable that named the secret, never a value: a message that quotes a
 * secret's text (as a JSON parse error would) is never built.
 */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { CredentialError } from '../../config/errors.ts';

/**
 * How long a secret's value is reused. The Lambdas read their secrets while wiring a cold
 * start (the clients keep the credentials), so this mostly spares repeated reads of one
 * secret by several clients; five minutes bounds how stale a re-wiring can be.
 */
export const SECRET_MAX_AGE_SECONDS = 300;

/** A secret's value could not be fetched or is not what the contract says. Names the variable. */
export class SecretError extends CredentialError {
  override readonly name = 'SecretError';
  readonly variable: string;
  constructor(variable: string, problem: string, options?: { cause?: unknown }) {
    super(`secret named by ${variable}: ${problem}`, options);
    this.variable = variable;
  }
}

export interface SecretsOptions {
  client: SecretsManagerClient;
  maxAgeSeconds?: number;
}

const credentialsSchema = z.object({ username: z.string().min(1), password: z.string() });

export class Secrets {
  readonly #provider: SecretsProvider;
  readonly #maxAge: number;

  constructor(options: SecretsOptions) {
    this.#provider = new SecretsProvider({ awsSdkV3Client: options.client });
    this.#maxAge = options.maxAgeSeconds ?? SECRET_MAX_AGE_SECONDS;
  }

  /** The SecretString of the secret `arn`, which the environment variable `variable` names. */
  async text(arn: string, variable: string): Promise<string> {
    let value: unknown;
    try {
      value = await this.#provider.get(arn, { maxAge: this.#maxAge });
    } catch (error) {
      // Powertools wraps the SDK's error (GetParameterError); its name is what tells why.
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      throw new SecretError(variable, `could not be read (${(cause as Error).name})`, { cause });
    }
    if (typeof value !== 'string' || value === '') throw new SecretError(variable, 'has no SecretString');
    return value;
  }

  /** `{"username","password"}` from the secret; undefined (anonymous) when no ARN is set. */
  async credentials(arn: string | undefined, variable: string): Promise<{ username: string; password: string } | undefined> {
    if (arn === undefined) return undefined;
    const text = await this.text(arn, variable);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new SecretError(variable, 'is not JSON {"username","password"}');
    }
    const parsed = credentialsSchema.safeParse(json);
    // Only the field name: the value may be (part of) the credentials.
    if (!parsed.success) throw new SecretError(variable, `${String(parsed.error.issues[0]?.path[0] ?? '(root)')}: required string`);
    return parsed.data;
  }
}
