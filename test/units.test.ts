/**
 * The CLI's, status's and report's number formatting, and the code-unit order bundles are
 * applied in. Both avoid ICU (Intl, localeCompare) because loading its data raises a
 * command's peak RSS by megabytes (cli/ferry.ts, npm run bench).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { byCodeUnit, formatBytes, groupDigits } from '../shared/units.ts';

describe('groupDigits', () => {
  it.each([
    [0, '0'],
    [999, '999'],
    [1000, '1,000'],
    [1073834496, '1,073,834,496'],
    [-1234567, '-1,234,567'],
    [1234.5, '1,234.5'],
  ])('%d → %s, as en-US toLocaleString writes it', (n, text) => {
    expect(groupDigits(n)).toBe(text);
    expect(groupDigits(n)).toBe(n.toLocaleString('en-US', { maximumFractionDigits: 20 }));
  });
});

describe('formatBytes', () => {
  it.each([
    [512, '512 B'],
    [1536, '1.5 KiB'],
    [3 * 1024 * 1024, '3.0 MiB'],
    [1073834496, '1.0 GiB'],
  ])('%d → %s', (n, text) => expect(formatBytes(n)).toBe(text));
});

describe('byCodeUnit', () => {
  it('orders bundle names by source and zero-padded sequence, uppercase before lowercase, punctuation by code', () => {
    const names = ['src-b-00000002.tar', 'src-a-00000010.tar', 'src-a-00000002.tar', 'Src-a-00000001.tar', 'src_a-00000001.tar'];
    expect([...names].sort(byCodeUnit)).toEqual(['Src-a-00000001.tar', 'src-a-00000002.tar', 'src-a-00000010.tar', 'src-b-00000002.tar', 'src_a-00000001.tar']);
    expect([...names].sort(byCodeUnit)).toEqual([...names].sort());
  });
});

describe('the CLI and the core', () => {
  it('call no ICU: no Intl, toLocaleString or localeCompare in cli/ or shared/ (the AWS SDK, loaded only by --table commands, may)', () => {
    const found = spawnSync('grep', ['-l', '-r', '-E', String.raw`\.toLocale[A-Za-z]*String\(|\.localeCompare\(|\bIntl\.`, 'shared', 'cli'], { encoding: 'utf8' });
    expect(found.stdout.trim().split('\n').filter(Boolean)).toEqual([]);
  });
});
