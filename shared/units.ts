/** Sizes as people read them: binary units, as `ls -lh` and the bundle cap use. One formatter for the CLI, status and the report. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(n)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * `1234567` → `1,234,567`. Not `toLocaleString`: the first Intl call loads ICU's number data,
 * about 7 MB of resident memory in a CLI whose peak is budgeted (npm run bench, issue 10).
 */
export function groupDigits(n: number): string {
  const [whole = '', fraction] = String(n).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

/**
 * Orders strings by UTF-16 code unit, as `Array.prototype.sort` does by default: names that
 * embed zero-padded numbers (bundles) sort in sequence. Not `localeCompare`: its collator
 * loads ICU data (about 3 MB resident) and orders punctuation and case by locale rules.
 */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
