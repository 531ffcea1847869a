/**
 * The early-seal port: `sealIfDue` (when copy starts a seal ahead of the schedule) with an
 * in-memory seal, and its Lambda adapter with aws-sdk-client-mock (no Lambda emulator here).
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { LambdaEarlySeal } from '../shared/adapters/aws/lambda-early-seal.ts';
import type { Log, LogFields } from '../shared/core/log.ts';
import { sealIfDue } from '../shared/core/export/early-seal.ts';
import type { EarlySeal } from '../shared/core/ports/early-seal.ts';

const lambda = mockClient(LambdaClient);
afterAll(() => lambda.restore());
beforeEach(() => lambda.reset());

function recordingLog(): Log & { lines: { level: string; message: string; fields?: LogFields | undefined }[] } {
  const lines: { level: string; message: string; fields?: LogFields | undefined }[] = [];
  const at = (level: string) => (message: string, fields?: LogFields) => void lines.push({ level, message, fields });
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

function memorySeal(fail?: Error): EarlySeal & { started: { pendingBytes: number }[] } {
  const started: { pendingBytes: number }[] = [];
  return {
    started,
    target: 'seal-in-memory',
    start: async (trigger) => {
      if (fail) throw fail;
      started.push(trigger);
    },
  };
}

const pending = (...sizes: number[]) => ({ listPendingEntries: async () => sizes.map((size) => ({ size })) });

describe('sealIfDue', () => {
  it('starts no seal while the pending bytes stay under the threshold, and one once they reach it', async () => {
    // Prepare
    const earlySeal = memorySeal();
    const log = recordingLog();

    // Act
    const under = await sealIfDue({ state: pending(400, 599), earlySeal, log }, 1000);
    const reached = await sealIfDue({ state: pending(400, 600), earlySeal, log }, 1000);

    // Assess
    expect([under, reached]).toEqual(['not due', 'started']);
    expect(earlySeal.started).toEqual([{ pendingBytes: 1000 }]);
    expect(log.lines).toEqual([{ level: 'info', message: 'pending bytes passed the threshold: seal started', fields: { pendingBytes: 1000, threshold: 1000, seal: 'seal-in-memory' } }]);
  });

  it('does not throw when the seal cannot be started: it warns that the schedule will seal', async () => {
    // Prepare
    const earlySeal = memorySeal(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }));
    const log = recordingLog();

    // Act
    const outcome = await sealIfDue({ state: pending(5000), earlySeal, log }, 1000);

    // Assess
    expect(outcome).toBe('failed');
    expect(log.lines).toEqual([
      { level: 'warn', message: 'could not start an early seal; the schedule will seal', fields: { seal: 'seal-in-memory', error: { name: 'TooManyRequestsException', message: 'Rate exceeded' } } },
    ]);
  });
});

describe('Lambda early seal', () => {
  it('invokes the seal function asynchronously with the copy trigger and the pending bytes', async () => {
    // Prepare
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    const seal = new LambdaEarlySeal({ client: new LambdaClient({ region: 'us-east-1' }), functionName: 'ferry-seal' });

    // Act
    await seal.start({ pendingBytes: 123_456 });

    // Assess
    const calls = lambda.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toMatchObject({ FunctionName: 'ferry-seal', InvocationType: 'Event' });
    expect(JSON.parse(Buffer.from(calls[0]!.args[0].input.Payload as Uint8Array).toString())).toEqual({ trigger: 'copy', pendingBytes: 123_456 });
  });

  it('names the seal function and the reason when Lambda does not take the invocation', async () => {
    // Prepare
    lambda.on(InvokeCommand).rejects(Object.assign(new Error('User is not authorized to perform: lambda:InvokeFunction'), { name: 'AccessDeniedException' }));
    const seal = new LambdaEarlySeal({ client: new LambdaClient({ region: 'us-east-1' }), functionName: 'ferry-seal' });

    // Act
    const starting = seal.start({ pendingBytes: 1 });

    // Assess
    await expect(starting).rejects.toMatchObject({
      name: 'EarlySealError',
      message: 'could not invoke the seal function ferry-seal: AccessDeniedException: User is not authorized to perform: lambda:InvokeFunction',
    });
  });
});
