/**
 * Maven's version order, close enough for `latest` and `release` in `maven-metadata.xml`:
 * numbers compare as numbers, the well-known qualifiers in Maven's order (alpha < beta <
 * milestone < rc < snapshot < release < sp), other qualifiers after them by text. Not the
 * whole of ComparableVersion (no list nesting), which the metadata does not need.
 */

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { a: 'alpha', b: 'beta', m: 'milestone', cr: 'rc', ga: '', final: '', release: '' };
const RELEASE_RANK = QUALIFIERS.indexOf('');

type Token = number | string;

function tokens(version: string): Token[] {
  const out: Token[] = [];
  for (const part of version.toLowerCase().split(/[.-]/)) {
    for (const piece of part.match(/\d+|[^\d]+/g) ?? ['']) out.push(/^\d+$/.test(piece) ? Number(piece) : (ALIASES[piece] ?? piece));
  }
  // 1.0.0 equals 1 and 1.0-ga: trailing zeros and release markers say nothing.
  while (out.length > 0 && (out.at(-1) === 0 || out.at(-1) === '')) out.pop();
  return out;
}

function rank(qualifier: string): [number, string] {
  const known = QUALIFIERS.indexOf(qualifier);
  return known >= 0 ? [known, ''] : [QUALIFIERS.length, qualifier];
}

function compareTokens(a: Token | undefined, b: Token | undefined): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return b === undefined ? (a === 0 ? 0 : 1) : 1;
  if (typeof b === 'number') return a === undefined ? (b === 0 ? 0 : -1) : -1;
  const [ra, ta] = a === undefined ? [RELEASE_RANK, ''] : rank(a);
  const [rb, tb] = b === undefined ? [RELEASE_RANK, ''] : rank(b);
  return ra !== rb ? ra - rb : ta < tb ? -1 : ta > tb ? 1 : 0;
}

/** Negative when `a` is older than `b`, for `Array.prototype.sort`. */
export function compareVersions(a: string, b: string): number {
  const x = tokens(a);
  const y = tokens(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const order = compareTokens(x[i], y[i]);
    if (order !== 0) return order;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
