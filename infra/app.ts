#!/usr/bin/env node
/** The CDK app (`cdk.json` runs it with `npx node infra/app.ts`): Ferry's stacks from context. */
import { App } from 'aws-cdk-lib';
import { defineFerryApp } from './ferry-app.ts';
import { InfraConfigError } from './errors.ts';

try {
  const app = new App();
  defineFerryApp(app);
  app.synth();
} catch (error) {
  if (!(error instanceof InfraConfigError)) throw error;
  process.stderr.write(`ferry infra: ${error.message}\n`);
  process.exitCode = 2;
}
