/**
 * The CloudWatch dashboards of both stacks: each stack has one, and its body (a Fn::Join
 * of JSON and tokens) draws the metrics operators need, under the namespace, service and
 * metric names the functions really publish them with, and cdk-nag stays clean with them.
 * Bundling is skipped (`aws:cdk:bundling-stacks`): only the templates are looked at here.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { COPY_METRICS, IMPORT_METRICS, METRICS_NAMESPACE, SCAN_LAG_METRIC, SEAL_METRICS } from '../functions/metrics.ts';
import { REPO_ROOT } from '../infra/common.ts';
import type { FerryExportStack } from '../infra/export-stack.ts';
import { defineFerryApp } from '../infra/ferry-app.ts';
import type { FerryImportStack } from '../infra/import-stack.ts';
import { FerryChecks } from '../infra/nag.ts';

const CDK_JSON = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
const REPOSITORIES = [
  { name: 'raw-releases', format: 'raw' },
  { name: 'npm-hosted', format: 'npm' },
];

/** One metric line of a widget, as CloudWatch reads it: namespace, name, dimension pairs, then options. */
interface DrawnMetric {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  options: { stat?: string; label?: string };
}

interface Widget {
  type: string;
  properties: { title?: string; metrics?: unknown[][]; alarms?: unknown[]; annotations?: { horizontal?: { value: number; label?: string }[] } };
}

let app: App;
let exportStack: FerryExportStack;
let importStack: FerryImportStack;

beforeAll(() => {
  const publicKeyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  app = new App({
    context: {
      ...CDK_JSON.context,
      'aws:cdk:bundling-stacks': [],
      sourceId: 'corp.nexus',
      nexusUrl: 'https://nexus.example.com',
      repositories: JSON.stringify(REPOSITORIES),
      targetUrl: 'https://nexus.isolated.example',
      trustedPublicKeysPem: publicKeyPem,
    },
  });
  ({ exportStack, importStack } = defineFerryApp(app) as Required<ReturnType<typeof defineFerryApp>>);
  app.synth();
});

const logicalId = (construct: IConstruct) => Stack.of(construct).getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);

/**
 * The stack's one dashboard body as JSON: the Fn::Join's literal parts joined, each token
 * (a queue name, the region) written as `<Ref X>` or `<X.Attribute>` in its place.
 */
function dashboardBody(stack: Stack): { widgets: Widget[] } {
  const dashboards = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard')) as { Properties: { DashboardBody: unknown } }[];
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]!.Properties.DashboardBody as string | { 'Fn::Join': [string, unknown[]] };
  if (typeof body === 'string') return JSON.parse(body) as { widgets: Widget[] };
  const [separator, parts] = body['Fn::Join'];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const token = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
      if (token.Ref !== undefined) return `<Ref ${token.Ref}>`;
      if (token['Fn::GetAtt'] !== undefined) return `<${token['Fn::GetAtt'].join('.')}>`;
      throw new Error(`unexpected token in the dashboard body: ${JSON.stringify(part)}`);
    })
    .join(separator);
  return JSON.parse(text) as { widgets: Widget[] };
}

/** Every metric line of every metric widget, with its widget's title. */
function drawnMetrics(widgets: Widget[]): (DrawnMetric & { widget: string })[] {
  return widgets.flatMap((widget) =>
    (widget.properties.metrics ?? []).map((line) => {
      const given = (typeof line.at(-1) === 'object' ? line.at(-1) : {}) as DrawnMetric['options'];
      // CloudWatch's default statistic, which CDK leaves out.
      const options = { ...given, stat: given.stat ?? 'Average' };
      const [namespace, name, ...rest] = line.filter((v) => typeof v === 'string') as string[];
      const dimensions: Record<string, string> = {};
      for (let i = 0; i + 1 < rest.length; i += 2) dimensions[rest[i]!] = rest[i + 1]!;
      return { widget: widget.properties.title ?? '', namespace: namespace!, name: name!, dimensions, options };
    }),
  );
}

/** Namespace and service of every Ferry function in the stack, as their environment tells Powertools. */
function powertoolsOf(stack: Stack): Map<string, string> {
  const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
  const byService = new Map<string, string>();
  for (const fn of Object.values(functions) as { Properties: { Environment?: { Variables?: Record<string, string> } } }[]) {
    const variables = fn.Properties.Environment?.Variables ?? {};
    if (variables.POWERTOOLS_SERVICE_NAME !== undefined) byService.set(variables.POWERTOOLS_SERVICE_NAME, variables.POWERTOOLS_METRICS_NAMESPACE!);
  }
  return byService;
}

const queueName = (construct: IConstruct) => `<${logicalId(construct)}.QueueName>`;

describe('the export dashboard', () => {
  it('is one dashboard named after the source, drawing tasks copied and failed, bytes staged and deduplicated, and bundle sizes', () => {
    // Prepare
    const template = Template.fromStack(exportStack);
    // Act
    const metrics = drawnMetrics(dashboardBody(exportStack).widgets);
    const ferry = (service: string, name: string) => metrics.filter((m) => m.namespace === METRICS_NAMESPACE && m.name === name && m.dimensions.service === service);
    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'Ferry-corp-nexus-export' });
    for (const name of [COPY_METRICS.tasks, COPY_METRICS.taskFailures, COPY_METRICS.bytesStaged, COPY_METRICS.bytesDeduplicated]) {
      expect(ferry('ferry-copy', name).length, name).toBeGreaterThan(0);
      expect(ferry('ferry-copy', name).every((m) => m.options.stat === 'Sum'), name).toBe(true);
    }
    expect(ferry('ferry-seal', SEAL_METRICS.bundleBytes).map((m) => m.options.stat).sort()).toEqual(['Average', 'Maximum']);
    expect(ferry('ferry-seal', SEAL_METRICS.bundlesSealed).length).toBeGreaterThan(0);
    expect(Object.keys(template.findOutputs('*')).some((k) => k.includes('DashboardName'))).toBe(true);
  });

  it('draws the dead-letter depth, the task queue and its oldest task, with the alarm threshold', () => {
    // Prepare
    const { queue, deadLetterQueue } = exportStack.ferry;
    // Act
    const { widgets } = dashboardBody(exportStack);
    const sqs = drawnMetrics(widgets).filter((m) => m.namespace === 'AWS/SQS');
    const oldest = widgets.find((w) => w.properties.title === 'Oldest task age (s)');
    // Assess
    expect(sqs).toContainEqual(expect.objectContaining({ name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: queueName(deadLetterQueue) } }));
    expect(sqs).toContainEqual(expect.objectContaining({ name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: queueName(queue) } }));
    expect(sqs).toContainEqual(expect.objectContaining({ name: 'ApproximateAgeOfOldestMessage', dimensions: { QueueName: queueName(queue) }, options: expect.objectContaining({ stat: 'Maximum' }) }));
    expect(oldest?.properties.annotations?.horizontal).toEqual([expect.objectContaining({ value: 3600, label: 'alarm' })]);
  });

  it('draws the scan lag of every configured repository, as the scan publishes it', () => {
    // Act
    const lag = drawnMetrics(dashboardBody(exportStack).widgets).filter((m) => m.name === SCAN_LAG_METRIC);
    // Assess
    expect(lag.map((m) => m.dimensions)).toEqual(REPOSITORIES.map((r) => ({ service: 'ferry-scan', repository: r.name })));
    expect(lag.every((m) => m.namespace === METRICS_NAMESPACE && m.options.stat === 'Maximum')).toBe(true);
  });

  it('shows the status of every export alarm', () => {
    // Act
    const alarms = dashboardBody(exportStack).widgets.find((w) => w.type === 'alarm');
    // Assess
    expect(alarms?.properties.alarms).toHaveLength(exportStack.ferry.alarms.length);
  });
});

describe('the import dashboard', () => {
  it('is one dashboard drawing imports, import failures and the failed-imports queue', () => {
    // Prepare
    const { failedImports, importFunction } = importStack.ferry;
    // Act
    const metrics = drawnMetrics(dashboardBody(importStack).widgets);
    const names = new Set(metrics.filter((m) => m.namespace === METRICS_NAMESPACE && m.dimensions.service === 'ferry-import').map((m) => m.name));
    // Assess
    expect([...names].sort()).toEqual([IMPORT_METRICS.bundlesImported, IMPORT_METRICS.entriesImported, IMPORT_METRICS.failures].sort());
    expect(metrics).toContainEqual(expect.objectContaining({ namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: queueName(failedImports) } }));
    expect(metrics).toContainEqual(expect.objectContaining({ namespace: 'AWS/Lambda', name: 'Errors', dimensions: { FunctionName: `<Ref ${logicalId(importFunction)}>` } }));
    expect(Object.keys(Template.fromStack(importStack).findOutputs('*')).some((k) => k.includes('DashboardName'))).toBe(true);
  });
});

describe('both dashboards', () => {
  it('draw Ferry metrics only under a namespace and service some function of the stack publishes with', () => {
    for (const stack of [exportStack, importStack]) {
      // Prepare
      const published = powertoolsOf(stack);
      // Act
      const ferry = drawnMetrics(dashboardBody(stack).widgets).filter((m) => m.dimensions.service !== undefined);
      // Assess
      expect(ferry.length, stack.stackName).toBeGreaterThan(0);
      for (const m of ferry) expect(published.get(m.dimensions.service!), `${m.widget}: ${m.name}`).toBe(m.namespace);
    }
  });

  it('leave cdk-nag with nothing unacknowledged', () => {
    // Act
    const violations = [new AwsSolutionsChecks(), new FerryChecks()].flatMap((pack) =>
      pack.validateScope(app).violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
    );
    // Assess
    expect(violations).toEqual([]);
  });
});
