/**
 * The benchmark's one table: a row per measurement with Ferry's value, skopeo's where it
 * applies, their ratio and the goal with `ok` / `MISSED`. Scenario modules return rows;
 * bench/images.ts prints them.
 */

export interface Row {
  metric: string;
  ferry: string;
  skopeo: string;
  ratio: string;
  goal: string;
}

export const MB = 1e6;
export const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;
export const rate = (bytes: number, seconds: number) => `${(bytes / seconds / MB).toFixed(0)} MB/s (${seconds.toFixed(1)} s)`;
export const times = (x: number, digits = 2) => `${x.toFixed(digits)}×`;
export const verdict = (met: boolean) => (met ? 'ok' : 'MISSED');
/** A row for a measurement skopeo has no counterpart of. */
export const ferryRow = (metric: string, ferry: string, goal = '', ratio = ''): Row => ({ metric, ferry, skopeo: '', ratio, goal });

export function table(rows: Row[]): string {
  const header: Row = { metric: 'metric', ferry: 'ferry', skopeo: 'skopeo', ratio: 'ratio', goal: 'goal' };
  const keys = ['metric', 'ferry', 'skopeo', 'ratio', 'goal'] as const;
  const all = [header, ...rows];
  const width = Object.fromEntries(keys.map((k) => [k, Math.max(...all.map((r) => [...r[k]].length))])) as Record<(typeof keys)[number], number>;
  const line = (r: Row) =>
    keys
      .map((k) => (k === 'metric' || k === 'goal' ? r[k].padEnd(width[k]) : r[k].padStart(width[k])))
      .join('  ')
      .trimEnd();
  const rule = keys.map((k) => '-'.repeat(width[k])).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}
