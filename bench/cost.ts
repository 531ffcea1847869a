/**
 * Cost per 10,000 artifacts on AWS. The serverless flow of test/deployed-flow.test.ts runs
 * against the emulators for N raw artifacts (N = max(100, 1,000 × scale)), announced by
 * webhook and then found by the scheduled scan, and for max(20, 200 × scale) docker images
 * found by the scan: Nexus → webhook or scan → SQS → copy → seal → ops carry the bundle →
 * import. Every AWS request is counted by service and operation, every invocation timed;
 * the counts, scaled to 10,000, are priced at the on-demand prices in aws-prices.ts. Memory
 * sizes, the copy batch size and the functions' settings come from the CDK constructs.
 *
 * Request counts are deterministic for a given N; Lambda durations (so GB-seconds) are this
 * machine's against local emulators, not AWS's network. Each run seals one bundle and
 * imports it, so seal and import count once per N (a schedule sealing every N artifacts).
 * Not counted: cold-start init (per execution environment, not per artifact); the event
 * source mapping's idle polling and the scheduled seals and scans that find nothing new
 * (fixed per hour); on the webhook path, the next scan's one ledger read per new artifact
 * (about $0.001 per 10k, not run here); what aws-prices.ts lists apart (storage, transfer,
 * X-Ray). The functions share one process here, so a secret one fetched is cached for the
 * next; on AWS each execution environment fetches its own once per cold start, so Secrets
 * Manager is counted a few requests short ($0.000005 each).
 */
import { makeS3Client, makeSqsClient, startEmulators } from '../test/support/emulators.ts';
import { makeImage, makeLayer } from '../test/support/images.ts';
import { content } from '../test/support/world.ts';
import { fakeAws } from './aws-fakes.ts';
import { AwsMeter } from './aws-meter.ts';
import { AWS_PRICES, dollarsOf, PRICES_TAKEN, scaleUsage, type AwsUsage, type Dollars } from './aws-prices.ts';
import { awsEnv, carryAndImport, deploy, pollIntoCopy, setEnv, type Deployment, type Format } from './cost-flow.ts';
import { deployedConfig, type DeployedConfig } from './deployed-config.ts';
import type { Context } from './scenarios.ts';
import { ferryRow, verdict, type Row } from './table.ts';

/** Raw artifacts of this size; their bytes change only durations and the bundle size. */
const ARTIFACT_BYTES = 32 * 1024;
/** Each image: a base layer all share and one layer of its own, both incompressible. */
const IMAGE_LAYER_BYTES = { base: 256 * 1024, own: 32 * 1024 };
const PER = 10_000;

type Trigger = 'webhook' | 'scan';

interface Phase {
  format: Format;
  trigger: Trigger;
  /** Artifacts (raw) or image tags (docker) carried. */
  count: number;
}

interface PhaseResult extends Phase {
  arrived: number;
  /** Usage per 10,000 artifacts or images. */
  usage: AwsUsage;
  dollars: Dollars;
  bundles: number;
  bundleBytes: number;
  calls: Map<string, number>;
  invocations: Map<string, { count: number; ms: number }>;
}

type PhaseParts = Parameters<typeof deploy>[1] & { poller: ReturnType<typeof makeSqsClient>; carrier: ReturnType<typeof makeS3Client> };

export async function costRows(ctx: Context): Promise<Row[]> {
  const raw = Math.max(100, Math.round(1000 * ctx.scale));
  const images = Math.max(20, Math.round(200 * ctx.scale));
  const phases: Phase[] = [
    { format: 'raw', trigger: 'webhook', count: raw },
    { format: 'raw', trigger: 'scan', count: raw },
    { format: 'docker', trigger: 'scan', count: images },
  ];
  const config = deployedConfig();
  const emulators = await startEmulators();
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= emulators.stop());
  ctx.defer(stop);
  const restoreEnv = setEnv(awsEnv(emulators));
  const meter = new AwsMeter(config.functions);
  const fakes = await fakeAws(meter, ctx.scratch);
  const unmeter = meter.meterEveryClient();
  const poller = makeSqsClient(emulators.awsEndpoint);
  meter.attach(poller, 'sqs', 'sqs-poller');
  const carrier = makeS3Client(emulators.awsEndpoint);
  meter.attach(carrier, 's3', 'ops-carry');
  try {
    const results: PhaseResult[] = [];
    for (const phase of phases) {
      ctx.log(`cost: ${describePhase(phase)} through the functions`);
      const started = Date.now();
      const result = await runPhase(phase, { emulators, config, meter, fakes, poller, carrier });
      ctx.log(`cost: done in ${((Date.now() - started) / 1000).toFixed(1)} s; ${detail(result, config)}`);
      results.push(result);
    }
    return rowsOf(results);
  } finally {
    poller.destroy();
    carrier.destroy();
    unmeter();
    fakes.restore();
    restoreEnv();
    await stop();
  }
}

const describePhase = (p: Phase) =>
  p.format === 'raw' ? `${p.count} raw artifacts of ${ARTIFACT_BYTES / 1024} KiB, announced by ${p.trigger}` : `${p.count} docker images (a shared ${IMAGE_LAYER_BYTES.base / 1024} KiB base layer, an own ${IMAGE_LAYER_BYTES.own / 1024} KiB layer), found by ${p.trigger}`;

async function runPhase(phase: Phase, parts: PhaseParts): Promise<PhaseResult> {
  const { meter, config, poller, carrier } = parts;
  const d = await deploy(`${phase.format}-${phase.trigger}-${Date.now().toString(36)}`, parts, phase.format);
  try {
    if (phase.trigger === 'webhook') await d.subscribeWebhook();
    // Images are pushed before counting starts: pushing is the source registry's business, not AWS's.
    const arrived = phase.format === 'raw' ? undefined : await publishImages(d, phase.count);
    meter.reset();
    const arrivedRaw = phase.format === 'raw' ? await putRawArtifacts(d, phase) : undefined;
    if (phase.trigger === 'scan') await d.invoke.scan(scheduledEvent('scan'));
    const copied = await pollIntoCopy(d, poller, config.copyBatchSize, phase.count);
    if (copied.failed > 0) throw new Error(`copy reported ${copied.failed} of ${phase.count} tasks failed`);
    const sealed = await d.invoke.seal(scheduledEvent('seal'));
    let bundleBytes = 0;
    for (const bundle of sealed.bundles) {
      const carried = await carryAndImport(d, carrier, bundle.name);
      if (carried.statuses.some((s) => s !== 'imported')) throw new Error(`import of ${bundle.name}: ${carried.statuses.join(', ')}`);
      bundleBytes += carried.bytes;
    }
    const usage = scaleUsage(meter.usage, PER / phase.count);
    return {
      ...phase,
      arrived: await (arrivedRaw ?? arrived)!(),
      usage,
      dollars: dollarsOf(usage),
      bundles: sealed.bundles.length,
      bundleBytes,
      calls: new Map(meter.calls),
      invocations: new Map(meter.invocations),
    };
  } finally {
    await d.close();
  }
}

/** Puts the raw artifacts in the source Nexus (each announced by its webhook, one delivery at a time); returns how to count those that arrived. */
async function putRawArtifacts(d: Deployment, phase: Phase): Promise<() => Promise<number>> {
  const world = d.world!;
  const artifacts = Array.from({ length: phase.count }, (_, i) => ({ path: `/bench/${phase.trigger}/artifact-${String(i).padStart(5, '0')}.bin`, bytes: content(`cost-${phase.trigger}-${i}`, ARTIFACT_BYTES) }));
  for (const artifact of artifacts) {
    world.source.putRawAsset('raw-a', artifact.path, artifact.bytes);
    // Each invocation measured alone, as Lambda would run it.
    if (phase.trigger === 'webhook') await world.source.webhooksIdle();
  }
  if (world.source.webhookFailures > 0) throw new Error(`${world.source.webhookFailures} webhook deliveries failed`);
  return async () => artifacts.filter((a) => world.target.getAsset('raw-a', a.path)?.content.equals(a.bytes)).length;
}

/** Pushes `count` images to the source registry, one repository each, listed by the source Nexus; returns how to count those that arrived. */
async function publishImages(d: Deployment, count: number): Promise<() => Promise<number>> {
  const images = d.images!;
  const base = await makeLayer({ 'base/lib.so': content('cost-base', IMAGE_LAYER_BYTES.base) });
  const names = Array.from({ length: count }, (_, i) => `bench/app-${String(i).padStart(4, '0')}`);
  const digests: string[] = [];
  for (const [i, name] of names.entries()) {
    const image = makeImage({ layers: [base, await makeLayer({ [`app/${i}.bin`]: content(`cost-app-${i}`, IMAGE_LAYER_BYTES.own) })] });
    await images.publish(name, '1.0.0', image);
    digests.push(image.manifest.digest);
  }
  return async () => {
    let arrived = 0;
    for (const [i, name] of names.entries()) {
      const there = await images.targetClient.headManifest(name, '1.0.0');
      if (there?.digest === digests[i]) arrived++;
    }
    return arrived;
  };
}

/** What EventBridge hands the scheduled functions. */
function scheduledEvent(fn: string) {
  return {
    version: '0',
    id: `bench-${fn}`,
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: new Date().toISOString(),
    region: AWS_PRICES.region,
    resources: [`arn:aws:events:${AWS_PRICES.region}:123456789012:rule/ferry-${fn}`],
    detail: {},
  };
}

// ───────────────────────────── rows ─────────────────────────────

const count = (x: number) => Math.round(x).toLocaleString('en-US');
const usd = (x: number) => `$${x >= 1 ? x.toFixed(2) : x >= 0.01 ? x.toFixed(3) : x.toFixed(5)}`;

function rowsOf(results: PhaseResult[]): Row[] {
  const rows: Row[] = [];
  for (const r of results) {
    const { usage: u, dollars: $ } = r;
    const goal = `printed; all ${r.count} arrived ${verdict(r.arrived === r.count)}`;
    const per = `cost/10k ${r.format === 'raw' ? 'raw artifacts' : 'docker images'}, ${r.trigger}`;
    if (r.format === 'raw' && r.trigger === 'webhook') {
      rows.push(
        ferryRow(`${per}: S3 requests`, `${count(u.s3.putCopyPostList)} PUT/COPY/LIST + ${count(u.s3.getAndOther)} GET/HEAD = ${usd($.s3)}`, goal),
        ferryRow(`${per}: SQS requests`, `${count(u.sqs.requests)} = ${usd($.sqs)}`, goal),
        ferryRow(`${per}: DynamoDB on-demand`, `${count(u.dynamo.wru)} WRU + ${count(u.dynamo.rru)} RRU = ${usd($.dynamo)}`, goal),
        ferryRow(`${per}: Lambda arm64`, `${count(u.lambda.invocations)} invocations, ${count(u.lambda.gbSeconds.arm64)} GB-s = ${usd($.lambda)}`, goal),
        ferryRow(`${per}: KMS + Secrets Manager`, `${count(u.kms.requests)} + ${count(u.secretsManager.requests)} requests = ${usd($.kms + $.secretsManager)}`, goal),
        ferryRow(`${per}: CloudWatch Logs`, `${(u.logs.bytes / 2 ** 20).toFixed(1)} MiB = ${usd($.logs)}`, goal),
      );
    }
    const other = $.sqs + $.kms + $.secretsManager + $.logs;
    const split = `S3 ${usd($.s3)}, DynamoDB ${usd($.dynamo)}, Lambda ${usd($.lambda)}, other ${usd(other)}`;
    rows.push(ferryRow(`${per}: total at us-east-1 on-demand prices of ${PRICES_TAKEN}`, `${usd($.total)} (${split})`, goal));
  }
  const webhook = results[0]!;
  const gib = (webhook.bundleBytes * (PER / webhook.count)) / 2 ** 30;
  const apart = AWS_PRICES.apart;
  rows.push(
    ferryRow(
      `cost/10k raw artifacts of ${ARTIFACT_BYTES / 1024} KiB, apart: bundles carried out`,
      `${gib.toFixed(2)} GiB: ${usd(gib * apart.transferOutPerGb)} transfer out, ${usd(gib * apart.s3StoragePerGbMonth)}/month stored`,
      'printed (not in the totals)',
    ),
  );
  return rows;
}

/** Per-function invocations and mean duration, and the most frequent calls, per 10k artifacts (for the log). */
function detail(r: PhaseResult, config: DeployedConfig): string {
  const scale = PER / r.count;
  const fns = [...r.invocations].map(([fn, i]) => `${fn} ${count(i.count * scale)}× ${(i.ms / i.count).toFixed(0)} ms @ ${config.functions[fn as keyof DeployedConfig['functions']].memoryMb} MB`);
  const calls = [...r.calls]
    .sort((a, b) => b[1] - a[1])
    .map(([call, times]) => `${call} ${count(times * scale)}`);
  return `${r.bundles} bundle(s); invocations per 10k: ${fns.join(', ')}; calls per 10k: ${calls.join(', ')}`;
}
