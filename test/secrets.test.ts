/**
 * Secrets Manager through Powertools Parameters (shared/adapters/aws/secrets.ts), with
 * aws-sdk-client-mock: the provider uses the SDK v3 client, so the mock intercepts it.
 * What is cached and for how long, and errors that name the variable, never the value.
 */
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Secrets, SECRET_MAX_AGE_SECONDS } from '../shared/adapters/aws/secrets.ts';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry-nexus';
const sm = mockClient(SecretsManagerClient);
afterAll(() => sm.restore());
beforeEach(() => sm.reset());
afterEach(() => vi.useRealTimers());

const secrets = () => new Secrets({ client: new SecretsManagerClient({ region: 'us-east-1' }) });
const reads = () => sm.commandCalls(GetSecretValueCommand).length;

describe('Secrets (Powertools Parameters)', () => {
  it('reads a secret once within its max age and again after it', async () => {
    // Prepare
    vi.useFakeTimers({ toFake: ['Date'] });
    sm.on(GetSecretValueCommand, { SecretId: ARN }).resolvesOnce({ SecretString: 'first' }).resolves({ SecretString: 'rotated' });
    const store = secrets();

    // Act
    const early = [await store.text(ARN, 'FERRY_NEXUS_SECRET_ARN'), await store.text(ARN, 'FERRY_NEXUS_SECRET_ARN')];
    vi.setSystemTime(Date.now() + (SECRET_MAX_AGE_SECONDS + 1) * 1000);
    const late = await store.text(ARN, 'FERRY_NEXUS_SECRET_ARN');

    // Assess
    expect(early).toEqual(['first', 'first']);
    expect(late).toBe('rotated');
    expect(reads()).toBe(2);
  });

  it('does not cache a failure: the next read asks Secrets Manager again', async () => {
    // Prepare
    sm.on(GetSecretValueCommand).rejectsOnce(new ResourceNotFoundException({ message: 'Secrets Manager can’t find the specified secret.', $metadata: {} })).resolves({ SecretString: 'there now' });
    const store = secrets();

    // Act
    const failed = await store.text(ARN, 'FERRY_WEBHOOK_SECRET_ARN').catch((error: unknown) => error as Error);
    const retried = await store.text(ARN, 'FERRY_WEBHOOK_SECRET_ARN');

    // Assess
    expect(failed).toMatchObject({ name: 'SecretError', message: 'secret named by FERRY_WEBHOOK_SECRET_ARN: could not be read (ResourceNotFoundException)' });
    expect(retried).toBe('there now');
    expect(reads()).toBe(2);
  });

  it('refuses a secret without a SecretString', async () => {
    // Prepare
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });

    // Act
    const reading = secrets().text(ARN, 'FERRY_WEBHOOK_SECRET_ARN');

    // Assess
    await expect(reading).rejects.toThrow('secret named by FERRY_WEBHOOK_SECRET_ARN: has no SecretString');
  });

  it('reads {"username","password"} credentials, naming the variable and never the value when they are malformed', async () => {
    // Prepare
    const store = secrets();
    const other = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:not-json';
    const partial = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:partial';
    sm.on(GetSecretValueCommand, { SecretId: ARN }).resolves({ SecretString: JSON.stringify({ username: 'ferry-reader', password: 'pa55' }) });
    sm.on(GetSecretValueCommand, { SecretId: other }).resolves({ SecretString: 'hunter2-not-json' });
    sm.on(GetSecretValueCommand, { SecretId: partial }).resolves({ SecretString: JSON.stringify({ password: 'only-a-password' }) });

    // Act
    const good = await store.credentials(ARN, 'FERRY_NEXUS_SECRET_ARN');
    const anonymous = await store.credentials(undefined, 'FERRY_NEXUS_SECRET_ARN');
    const failure = (arn: string) => store.credentials(arn, 'FERRY_TARGET_SECRET_ARN').then(() => new Error('read'), (error: unknown) => error as Error);
    const notJson = await failure(other);
    const noUser = await failure(partial);

    // Assess
    expect(good).toEqual({ username: 'ferry-reader', password: 'pa55' });
    expect(anonymous).toBeUndefined();
    expect(notJson.message).toBe('secret named by FERRY_TARGET_SECRET_ARN: is not JSON {"username","password"}');
    expect(noUser.message).toBe('secret named by FERRY_TARGET_SECRET_ARN: username: required string');
    expect(`${notJson.message} ${noUser.message}`).not.toMatch(/hunter2|only-a-password/);
  });
});
