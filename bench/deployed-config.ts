/**
 * What the CDK app configures for each Lambda, read from the constructs themselves (the app
 * defined with bundling skipped, never synthesized): memory, architecture, the literal
 * environment, and the copy queue's batch size. The cost benchmark prices with these, so a
 * change in infra/ changes the printed dollars without a second copy of the numbers here.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnEventSourceMapping } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { REPO_ROOT, type FunctionName } from '../infra/common.ts';
import { defineFerryApp } from '../infra/ferry-app.ts';

export interface DeployedFunction {
  memoryMb: number;
  architecture: 'arm64' | 'x86_64';
  /** The environment's literal values (resource names, ARNs and URLs are tokens and left out). */
  literalEnv: Record<string, string>;
  /** Every variable the function is deployed with, literal or not. */
  variables: string[];
}

export interface DeployedConfig {
  functions: Record<FunctionName, DeployedFunction>;
  /** Messages per copy invocation (the SQS event source's batch size). */
  copyBatchSize: number;
}

/** Defines both stacks as `cdk deploy` would (a placeholder source and target), without bundling any function. */
export function deployedConfig(): DeployedConfig {
  const cdk = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  const someKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const app = new App({
    context: {
      ...cdk.context,
      // Skips esbuild: only the constructs' properties are read.
      'aws:cdk:bundling-stacks': [],
      sourceId: 'bench',
      nexusUrl: 'https://nexus.example.com',
      repositories: JSON.stringify([{ name: 'raw-a', format: 'raw' }]),
      targetUrl: 'https://nexus.isolated.example',
      trustedPublicKeysPem: someKey,
    },
  });
  const { exportStack, importStack } = defineFerryApp(app);
  if (exportStack === undefined || importStack === undefined) throw new Error('the CDK app defined no export or import stack');
  const fns: Record<FunctionName, NodejsFunction> = { ...exportStack.ferry.functions, import: importStack.ferry.importFunction, definitions: exportStack.ferry.definitions.function };
  const functions = Object.fromEntries(Object.entries(fns).map(([name, fn]) => [name, describe(fn)])) as Record<FunctionName, DeployedFunction>;
  const mappings = exportStack.node.findAll().filter((c): c is CfnEventSourceMapping => c instanceof CfnEventSourceMapping);
  if (mappings.length !== 1) throw new Error(`expected one event source mapping (the copy queue), found ${mappings.length}`);
  return { functions, copyBatchSize: mappings[0]!.batchSize ?? 10 };
}

function describe(fn: NodejsFunction): DeployedFunction {
  const cfn = fn.node.defaultChild as CfnFunction;
  const resolved = Stack.of(fn).resolve(cfn.environment) as { variables?: Record<string, unknown> } | undefined;
  const variables = resolved?.variables ?? {};
  const literalEnv = Object.fromEntries(Object.entries(variables).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const architectures = (cfn.architectures ?? ['x86_64']) as string[];
  if (cfn.memorySize === undefined) throw new Error(`${fn.node.path}: no memorySize configured`);
  return { memoryMb: cfn.memorySize, architecture: architectures[0] === 'arm64' ? 'arm64' : 'x86_64', literalEnv, variables: Object.keys(variables) };
}
