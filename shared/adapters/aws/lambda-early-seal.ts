/**
 * The early seal on AWS: an asynchronous invocation (`InvocationType: Event`) of the seal
 * function. Lambda queues the event and answers at once; the seal function runs with
 * reserved concurrency 1, so an early seal and a scheduled one never overlap.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { EarlySeal } from '../../core/ports/early-seal.ts';
import { ExportError } from '../../core/export/errors.ts';

export interface LambdaEarlySealOptions {
  client: LambdaClient;
  /** The seal function's name or ARN. */
  functionName: string;
}

/** Lambda did not take the invocation (throttled, not allowed, no such function). */
export class EarlySealError extends ExportError {
  override readonly name = 'EarlySealError';
}

export class LambdaEarlySeal implements EarlySeal {
  readonly client: LambdaClient;
  readonly target: string;

  constructor(options: LambdaEarlySealOptions) {
    this.client = options.client;
    this.target = options.functionName;
  }

  /** The seal function receives `{"trigger":"copy","pendingBytes":…}` and logs it as its trigger. */
  async start(trigger: { pendingBytes: number }): Promise<void> {
    const payload = Buffer.from(JSON.stringify({ trigger: 'copy', pendingBytes: trigger.pendingBytes }));
    try {
      await this.client.send(new InvokeCommand({ FunctionName: this.target, InvocationType: 'Event', Payload: payload }));
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new EarlySealError(`could not invoke the seal function ${this.target}: ${reason}`, { cause: error });
    }
  }
}
