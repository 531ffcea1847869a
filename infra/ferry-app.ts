/**
 * Defines Ferry's stacks on an app from CDK context (`-c key=value` or cdk.json), with
 * cdk-nag checks. Each stack is defined only when its own context is present: the export
 * side is deployed first, and the importer's trusted key (the export stack's KMS public
 * key) exists only after that.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { App } from 'aws-cdk-lib';
import { byteSize } from '../shared/config/export-config.ts';
import { InfraConfigError } from './errors.ts';
import { FerryExportStack } from './export-stack.ts';
import { FerryImportStack } from './import-stack.ts';
import { addNagChecks } from './nag.ts';
import type { RegistryEndpointConfig, RepositoryConfig } from './common.ts';

export const EXPORT_CONTEXT = ['sourceId', 'nexusUrl', 'repositories', 'scanSchedule', 'sealSchedule', 'reconcileSchedule', 'registrySecretPrefix', 'maxBundleBytes', 'copyConcurrency', 'alarmTopicArn'] as const;
export const IMPORT_CONTEXT = ['targetUrl', 'trustedPublicKeysFile', 'trustedPublicKeysPem', 'registries', 'repositoryMap', 'alarmTopicArn'] as const;

export interface FerryApp {
  exportStack?: FerryExportStack;
  importStack?: FerryImportStack;
}

export function defineFerryApp(app: App, options: { cwd?: string } = {}): FerryApp {
  const cwd = options.cwd ?? process.cwd();
  const context = (key: string): unknown => app.node.tryGetContext(key);
  const has = (key: string) => context(key) !== undefined && context(key) !== '';
  const problems: string[] = [];
  const result: FerryApp = {};
  const alarmTopicArn = context('alarmTopicArn') as string | undefined;

  if (has('sourceId') || has('nexusUrl') || has('repositories')) {
    const maxBundleBytes = optional(context('maxBundleBytes'), (v) => {
      const parsed = byteSize.safeParse(v);
      if (!parsed.success) problems.push(`maxBundleBytes: expected a size such as 4GiB, 700MB or a number of bytes, got ${JSON.stringify(v)}`);
      return parsed.success ? parsed.data : undefined;
    });
    const copyConcurrency = optional(context('copyConcurrency'), Number);
    const repositories = parseJson('repositories', context('repositories'), problems) as RepositoryConfig[];
    if (problems.length > 0) throw new InfraConfigError('cdk context', problems);
    result.exportStack = new FerryExportStack(app, 'FerryExportStack', {
      description: 'Ferry, connected side: Nexus webhook and scan → copy → signed bundles in S3',
      sourceId: context('sourceId') as string,
      nexusUrl: context('nexusUrl') as string,
      repositories,
      ...(has('scanSchedule') ? { scanSchedule: context('scanSchedule') as string } : {}),
      ...(has('sealSchedule') ? { sealSchedule: context('sealSchedule') as string } : {}),
      ...(has('reconcileSchedule') ? { reconcileSchedule: context('reconcileSchedule') as string } : {}),
      ...(has('registrySecretPrefix') ? { registrySecretPrefix: context('registrySecretPrefix') as string } : {}),
      ...(maxBundleBytes !== undefined ? { maxBundleBytes } : {}),
      ...(copyConcurrency !== undefined ? { copyConcurrency } : {}),
      ...(alarmTopicArn ? { alarmTopicArn } : {}),
    });
  }

  if (has('targetUrl') || has('trustedPublicKeysFile') || has('trustedPublicKeysPem')) {
    let pem = (context('trustedPublicKeysPem') as string | undefined) ?? '';
    const file = context('trustedPublicKeysFile') as string | undefined;
    if (file) {
      try {
        pem += `\n${readFileSync(path.resolve(cwd, file), 'utf8')}`;
      } catch (error) {
        problems.push(`trustedPublicKeysFile: cannot read ${path.resolve(cwd, file)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
    }
    const registries = parseJson('registries', context('registries'), problems) as Record<string, RegistryEndpointConfig> | undefined;
    const repositoryMap = parseJson('repositoryMap', context('repositoryMap'), problems) as Record<string, string> | undefined;
    if (problems.length === 0) {
      result.importStack = new FerryImportStack(app, 'FerryImportStack', {
        ...(registries !== undefined ? { registries } : {}),
        ...(repositoryMap !== undefined ? { repositoryMap } : {}),
        description: 'Ferry, isolated side: bundle inbox → verify → target Nexus, with receipts',
        targetUrl: context('targetUrl') as string,
        trustedPublicKeysPem: pem,
        ...(alarmTopicArn ? { alarmTopicArn } : {}),
      });
    }
  }

  if (problems.length > 0) throw new InfraConfigError('cdk context', problems);
  if (result.exportStack === undefined && result.importStack === undefined) {
    throw new InfraConfigError('cdk context', [
      'no stack to define: pass the export side (-c sourceId=… -c nexusUrl=… -c repositories=\'[{"name":"raw-releases","format":"raw"}]\')',
      'and/or the import side (-c targetUrl=… -c trustedPublicKeysFile=ferry-signing.pub.pem); see docs/deploy.md',
    ]);
  }
  addNagChecks(app);
  return result;
}

function optional<T>(value: unknown, parse: (v: unknown) => T): T | undefined {
  return value === undefined || value === '' ? undefined : parse(value);
}

/** `-c key=value` arrives as a string; cdk.json may hold the JSON value itself. */
function parseJson(key: string, value: unknown, problems: string[]): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch (error) {
    problems.push(`${key}: not valid JSON (${(error as Error).message})`);
    return undefined;
  }
}
