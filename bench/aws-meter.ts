/**
 * Counts what the serverless flow would be billed for, as it runs against the emulators: an
 * SDK middleware on each client records every request attempt (service, operation, the
 * function whose invocation made it), DynamoDB's own consumed capacity (requested with
 * ReturnConsumedCapacity, which DynamoDB Local computes from item sizes as DynamoDB does),
 * and SQS payload bytes; invocations are timed and their log output counted.
 */
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FunctionName } from '../infra/common.ts';
import type { DeployedFunction } from './deployed-config.ts';
import { emptyUsage, gbSecondsOf, s3ClassOf, sqsRequestsOf, type AwsUsage } from './aws-prices.ts';

/** The part of an SDK middleware stack used here; each client types `add` by its own commands. */
interface MiddlewareArgs {
  input: Record<string, unknown>;
  request?: unknown;
}
type Next = (args: MiddlewareArgs) => Promise<{ output: unknown }>;
type Middleware = (next: Next, context: { commandName?: string }) => Next;
type AddMiddleware = (middleware: Middleware, options: { step: 'initialize' | 'finalizeRequest'; priority?: 'low'; name: string }) => void;
interface MeteredClient {
  middlewareStack: { add: (...args: never[]) => void };
}

export type MeteredService = 's3' | 'sqs' | 'dynamo';

const DYNAMO_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const DYNAMO_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

/**
 * Lambda's own records per invocation in JSON log format (platform.start and platform.report),
 * which the handlers do not print: an estimate of their size, not a measurement.
 */
export const PLATFORM_LOG_BYTES_PER_INVOCATION = 500;

export class AwsMeter {
  usage: AwsUsage = emptyUsage();
  /** `caller service operation` → requests, for the detail log. */
  readonly calls = new Map<string, number>();
  readonly invocations = new Map<FunctionName, { count: number; ms: number }>();
  readonly #functions: Record<FunctionName, DeployedFunction>;
  /** Middleware stacks already metered (a document client shares its DynamoDB client's stack). */
  readonly #metered = new WeakSet<object>();
  #current: string | undefined;

  constructor(functions: Record<FunctionName, DeployedFunction>) {
    this.#functions = functions;
  }

  reset(): void {
    this.usage = emptyUsage();
    this.calls.clear();
    this.invocations.clear();
  }

  /**
   * Meters every S3, SQS and DynamoDB client on its first request, wherever it was made (the
   * functions make and keep their own), by wrapping `send` on the client classes as
   * aws-sdk-client-mock does. Returns the function that unwraps them.
   */
  meterEveryClient(): () => void {
    const classes = [
      [S3Client, 's3'],
      [SQSClient, 'sqs'],
      [DynamoDBClient, 'dynamo'],
      [DynamoDBDocumentClient, 'dynamo'],
    ] as const;
    const restores = classes.map(([Class, service]) => {
      const proto = Class.prototype as unknown as { send(this: MeteredClient, ...args: unknown[]): unknown };
      const own = Object.getOwnPropertyDescriptor(proto, 'send');
      const send = proto.send;
      const attach = (client: MeteredClient) => this.attach(client, service);
      proto.send = function (this: MeteredClient, ...args: unknown[]) {
        attach(this);
        return send.apply(this, args);
      };
      return () => (own === undefined ? Reflect.deleteProperty(proto, 'send') : Object.defineProperty(proto, 'send', own));
    });
    return () => restores.forEach((restore) => restore());
  }

  /**
   * Counts every request `client` sends (once per middleware stack). `caller` names who sends
   * it when not a function: the event source mapping's SQS poller, the operator carrying a bundle.
   */
  attach(client: MeteredClient, service: MeteredService, caller?: string): void {
    if (this.#metered.has(client.middlewareStack)) return;
    this.#metered.add(client.middlewareStack);
    // As test/aws-adapters.test.ts does: one middleware shape for every client's differently typed stack.
    const add = client.middlewareStack.add.bind(client.middlewareStack) as unknown as AddMiddleware;
    if (service === 'dynamo') {
      add(
        (next, context) => (args) => {
          const operation = operationOf(context);
          const wanted = DYNAMO_READS.has(operation) || DYNAMO_WRITES.has(operation);
          return next(wanted ? { ...args, input: { ...args.input, ReturnConsumedCapacity: 'TOTAL' } } : args);
        },
        { step: 'initialize', name: 'benchConsumedCapacity' },
      );
    }
    // Low priority in finalizeRequest: inside the retry middleware, so each attempt counts (each is billed).
    add(
      (next, context) => async (args) => {
        const operation = operationOf(context);
        const who = caller ?? this.#current ?? 'outside';
        try {
          const result = await next(args);
          this.#count(service, operation, who, args, result.output as Record<string, unknown>);
          return result;
        } catch (error) {
          this.#count(service, operation, who, args, undefined);
          throw error;
        }
      },
      { step: 'finalizeRequest', priority: 'low', name: 'benchMeter' },
    );
  }

  /** A request to a service the emulators do not have (KMS, Secrets Manager, Lambda's Invoke), counted by its fake. */
  record(service: 'kms' | 'secretsManager' | 'lambdaInvoke', operation: string): void {
    const who = this.#current ?? 'outside';
    this.#tally(`${who} ${service} ${operation}`);
    if (service === 'kms') this.usage.kms.requests++;
    else if (service === 'secretsManager') this.usage.secretsManager.requests++;
    // An asynchronous Invoke is billed as the invoked function's request when it runs.
  }

  /** Runs one invocation of `fn`: timed, its AWS calls attributed to it, its log output counted (and kept off the terminal). */
  async invoke<T>(fn: FunctionName, run: () => Promise<T>): Promise<T> {
    if (this.#current !== undefined) throw new Error(`invocations overlap: ${fn} started while ${this.#current} runs`);
    this.#current = fn;
    const restore = this.#captureOutput();
    const started = performance.now();
    try {
      return await run();
    } finally {
      const ms = performance.now() - started;
      restore();
      this.#current = undefined;
      const { memoryMb, architecture } = this.#functions[fn];
      this.usage.lambda.invocations++;
      this.usage.lambda.gbSeconds[architecture] += gbSecondsOf(ms, memoryMb);
      this.usage.logs.bytes += PLATFORM_LOG_BYTES_PER_INVOCATION;
      const seen = this.invocations.get(fn) ?? { count: 0, ms: 0 };
      this.invocations.set(fn, { count: seen.count + 1, ms: seen.ms + ms });
    }
  }

  /** Counts and swallows what the handler prints: Lambda ships stdout and stderr to CloudWatch Logs. */
  #captureOutput(): () => void {
    const streams = [process.stdout, process.stderr];
    const writes = streams.map((stream) => stream.write);
    for (const stream of streams) {
      stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        this.usage.logs.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
        const callback = rest.find((r): r is () => void => typeof r === 'function');
        callback?.();
        return true;
      }) as typeof stream.write;
    }
    return () => streams.forEach((stream, i) => (stream.write = writes[i]!));
  }

  #count(service: MeteredService, operation: string, who: string, args: MiddlewareArgs, output: Record<string, unknown> | undefined): void {
    this.#tally(`${who} ${service} ${operation}`);
    const usage = this.usage;
    if (service === 's3') {
      usage.s3[s3ClassOf(operation)]++;
    } else if (service === 'sqs') {
      usage.sqs.calls++;
      usage.sqs.requests += sqsRequestsOf(Math.max(bodyBytes(args.request), receivedBytes(output)));
    } else {
      usage.dynamo.calls++;
      const reads = DYNAMO_READS.has(operation);
      if (!reads && !DYNAMO_WRITES.has(operation)) return;
      const units = output === undefined ? failedUnits(operation, args.input) : consumedUnits(output);
      if (reads) usage.dynamo.rru += units;
      else usage.dynamo.wru += units;
    }
  }

  #tally(key: string): void {
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
  }
}

const operationOf = (context: { commandName?: string }) => (context.commandName ?? 'Unknown').replace(/Command$/, '');

function bodyBytes(request: unknown): number {
  const body = (request as { body?: unknown } | undefined)?.body;
  if (typeof body === 'string') return Buffer.byteLength(body);
  return body instanceof Uint8Array ? body.byteLength : 0;
}

/** SQS bills a receive by the payload it returns. */
function receivedBytes(output: Record<string, unknown> | undefined): number {
  const messages = (output?.Messages ?? []) as { Body?: string }[];
  return messages.reduce((n, m) => n + Buffer.byteLength(m.Body ?? ''), 0);
}

function consumedUnits(output: Record<string, unknown>): number {
  const consumed = output.ConsumedCapacity as { CapacityUnits?: number } | { CapacityUnits?: number }[] | undefined;
  if (consumed === undefined) throw new Error('DynamoDB returned no ConsumedCapacity although it was asked for');
  return (Array.isArray(consumed) ? consumed : [consumed]).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0);
}

/**
 * A refused write (a failed condition, a cancelled transaction) is billed too, but DynamoDB
 * reports no capacity for it: one unit per item (items here are under 1 KB), doubled in a
 * transaction; a failed read, one unit.
 */
function failedUnits(operation: string, input: Record<string, unknown>): number {
  if (operation === 'TransactWriteItems') return 2 * ((input.TransactItems as unknown[] | undefined)?.length ?? 1);
  return 1;
}
