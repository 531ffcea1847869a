/**
 * `ferry status` for a person: a compact table per repository (export side) or per source
 * (import side), then one line per topic. Pure: the lines are returned, the CLI prints them.
 */
import type { ExportStatus, FailedTask, FarSideFile, ImportStatus, ImportSourceStatus, RepositoryStatus } from './status.ts';
import { formatBytes } from '../units.ts';

/** How many failed tasks are listed one per line before the rest are only counted. */
const FAILED_TASKS_SHOWN = 20;

export function formatExportStatus(status: ExportStatus): string[] {
  const lines = [`export side ${status.sourceId} (${status.deployment}), ${status.at}`, ''];
  if (status.repositories.length === 0) lines.push('no repository scanned yet');
  else lines.push(...table(['REPOSITORY', 'WATERMARK', 'LAG', 'SCAN', 'PENDING'], status.repositories.map(repositoryRow)));
  if (status.notScanned.length > 0) lines.push(`no watermark yet: ${status.notScanned.join(', ')} (a group shows as its members)`);
  lines.push('');
  lines.push(`pending      ${count(status.pending.entries, 'entry', 'entries')}, ${formatBytes(status.pending.bytes)} not yet sealed`);
  lines.push(...taskLines(status));
  const last = status.bundles.last;
  lines.push(
    last === null
      ? 'last bundle  none sealed yet'
      : `last bundle  #${last.sequence} ${last.name}, ${formatBytes(last.size)}, sealed ${last.sealedAt}, ${last.published ? 'published' : 'NOT yet published (the next export publishes it)'}`,
  );
  lines.push(`bundles      ${status.bundles.sealed} sealed, ${formatBytes(status.bundles.bytes)}`);
  const far = status.farSide;
  lines.push(
    `far side     ${count(far.blobs, 'blob', 'blobs')} known held: ${far.shippedInBundles} shipped in bundles, ${far.reportedByReceipts} reported by receipts; ` +
      `${count(far.resendsWaiting, 'resend', 'resends')} waiting`,
  );
  for (const note of status.notes) lines.push(`note: ${note}`);
  return lines;
}

export function formatImportStatus(status: ImportStatus): string[] {
  const lines = [`import side (${status.deployment}), ${status.at}`, ''];
  if (status.sources.length === 0) lines.push('no bundle imported yet');
  else lines.push(...table(['SOURCE', 'CHAIN HEAD', 'LAST IMPORT', 'BUNDLES', 'LAST RECEIPT'], status.sources.map(sourceRow)));
  for (const source of status.sources) {
    const resend = source.lastResendRequest;
    if (resend !== null && (source.lastReceipt === null || resend.writtenAt > source.lastReceipt.writtenAt)) {
      lines.push(`${source.sourceId}: resend request ${resend.name} (${resend.writtenAt}) is newer than the last receipt: carry it back (ferry receipt apply)`);
    }
  }
  lines.push('');
  lines.push(status.held === null ? 'held         not read' : `held         ${count(status.held.blobs, 'blob', 'blobs')}, ${formatBytes(status.held.bytes)}`);
  const receipts = status.receipts;
  if (receipts === null) lines.push('receipts     not read');
  else lines.push(`receipts     ${receipts.count} in ${receipts.location}${receipts.latest === null ? '' : `; latest ${fileLabel(receipts.latest)}`}`);
  for (const note of status.notes) lines.push(`note: ${note}`);
  return lines;
}

function repositoryRow(r: RepositoryStatus): string[] {
  return [
    r.repository,
    r.watermark ?? '-',
    r.lagSeconds === null ? '-' : formatDuration(r.lagSeconds),
    r.scan === null ? '-' : `in progress ${formatDuration(r.scan.runningSeconds)}${r.scan.continuationToken === null ? '' : ' (paged)'}`,
    r.pending.entries === 0 ? '0' : `${r.pending.entries} (${formatBytes(r.pending.bytes)})`,
  ];
}

function sourceRow(s: ImportSourceStatus): string[] {
  return [
    s.sourceId,
    s.chainHead === null ? '-' : `#${s.chainHead.sequence} ${s.chainHead.digest.slice(0, 19)}…`,
    s.lastImport === null ? '-' : `#${s.lastImport.sequence} at ${s.lastImport.importedAt}`,
    s.aheadOfChain === 0 ? String(s.bundlesImported) : `${s.bundlesImported} (${s.aheadOfChain} ahead of the chain)`,
    s.lastReceipt === null ? '-' : fileLabel(s.lastReceipt),
  ];
}

function taskLines(status: ExportStatus): string[] {
  const t = status.tasks;
  const n = (value: number | null) => (value === null ? '?' : String(value));
  const kept = t.kept === 'dead-letter-queue' ? ' (dead-letter queue)' : '';
  const lines = [`tasks        ${n(t.queued)} queued, ${n(t.running)} running, ${n(t.retrying)} retrying, ${n(t.dead)} failed${kept}`];
  for (const task of t.failed.slice(0, FAILED_TASKS_SHOWN)) lines.push(`  ${failedLine(task)}`);
  if (t.failed.length > FAILED_TASKS_SHOWN) lines.push(`  … and ${t.failed.length - FAILED_TASKS_SHOWN} more (--json lists them all)`);
  if (t.note !== null) lines.push(`  ${t.note}`);
  return lines;
}

function failedLine(task: FailedTask): string {
  const state = task.state === 'dead' ? 'failed  ' : 'retrying';
  return `${state} ${task.task}: ${count(task.attempts, 'attempt', 'attempts')}, last ${task.failedAt}: ${oneLine(task.lastError)}`;
}

function fileLabel(file: FarSideFile): string {
  return `${file.name} (${file.writtenAt})`;
}

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(headers), ...rows.map(line)];
}


/** `45s`, `3m 12s`, `2h 05m`, `3d 4h`: lag at a glance. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}
