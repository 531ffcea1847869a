/**
 * The scan alone, for bench/scale.ts: one raw repository scanned by the exporter on the
 * embedded adapters (SQLite state and task queue in a fresh work directory, the Nexus REST
 * client), as `ferry export` scans before it copies. Nothing is copied. bench/scale.ts bundles
 * this file with esbuild and runs it as a child, so its peak RSS is that of built code, not
 * of Node's TypeScript stripper.
 *
 *   node scan-child.mjs <nexus url> <repository> <work dir>   → one JSON line on stdout
 */
import { generateKeyPairSync } from 'node:crypto';
import { DirObjectStore, openEmbeddedExport } from '../shared/adapters/embedded/index.ts';
import { NexusClient } from '../shared/adapters/nexus/index.ts';
import { makeExporter } from '../shared/core/export/exporter.ts';
import { silentLog } from '../shared/core/log.ts';
import { systemClock } from '../shared/core/ports/index.ts';
import { localSigner } from '../shared/signing.ts';

export interface ScanChildResult {
  /** The scan call alone: process start-up and the opening of adapters excluded. */
  seconds: number;
  pages: number;
  components: number;
  queued: number;
}

const [url, repository, workDir] = process.argv.slice(2);
if (url === undefined || repository === undefined || workDir === undefined) throw new Error('usage: scan-child <nexus url> <repository> <work dir>');

const embedded = openEmbeddedExport(workDir);
const source = new NexusClient({ baseUrl: url });
try {
  const exporter = makeExporter(
    { source, store: new DirObjectStore(`${workDir}/objects`), queue: embedded.queue, state: embedded.state, clock: systemClock, log: silentLog, signer: localSigner(generateKeyPairSync('ed25519').privateKey) },
    { sourceId: 'bench-scale', repositories: [{ name: repository, format: 'raw', target: repository }], overlapMs: 0, scanConcurrency: 1, maxBundleBytes: 1 << 30 },
  );
  const started = process.hrtime.bigint();
  const { results, failures } = await exporter.scan();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (failures.length > 0) throw failures[0]!.error;
  const result: ScanChildResult = {
    seconds,
    pages: results.reduce((n, r) => n + r.pages, 0),
    components: results.reduce((n, r) => n + r.components, 0),
    queued: results.reduce((n, r) => n + r.queued, 0),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await source.close();
  embedded.close();
}
