/**
 * vitest globalSetup: starts the AWS emulators once for the whole run and hands their
 * endpoints to test files (`inject('awsEndpoint')`, `inject('dynamoEndpoint')`).
 */
import type { TestProject } from 'vitest/node';
import { startEmulators } from './emulators.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    awsEndpoint: string;
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const emulators = await startEmulators();
  project.provide('awsEndpoint', emulators.awsEndpoint);
  project.provide('dynamoEndpoint', emulators.dynamoEndpoint);
  return () => emulators.stop();
}
