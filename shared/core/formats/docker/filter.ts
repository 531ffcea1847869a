/**
 * Which images, tags and platforms of a docker repository to carry. Pure functions, so
 * the rules are table-tested apart from any registry.
 */
import semver from 'semver';
import { PLATFORM } from '../../../config/names.ts';

export interface ImageFilter {
  /** Regular expressions over the image name (`team/app`). */
  images?: { include?: string | undefined; exclude?: string | undefined } | undefined;
  /** Regular expressions over the tag, and a semver range the tag must satisfy. */
  tags?: { include?: string | undefined; exclude?: string | undefined; semver?: string | undefined } | undefined;
  /** `os/arch[/variant]` to keep from multi-platform indexes; unset keeps all. */
  platforms?: string[] | undefined;
}

/** Cosign's `sha256-<hex>.sig|.att|.sbom` tags and the OCI referrers tag schema `sha256-<hex>`. */
const REFERRER_TAG = /^sha256-[0-9a-f]{64}(\.(sig|att|sbom))?$/;

export function isReferrerTag(tag: string): boolean {
  return REFERRER_TAG.test(tag);
}

/** The subject a referrer tag names (`sha256-<hex>.sig` → `sha256:<hex>`), or undefined for any other tag. */
export function referrerSubject(tag: string): `sha256:${string}` | undefined {
  return REFERRER_TAG.test(tag) ? `sha256:${tag.slice(7, 71)}` : undefined;
}

/** Tags that travel with a subject manifest rather than on their own. */
export function referrerTagsFor(digest: string): string[] {
  const hex = digest.replace(/^sha256:/, '');
  return ['sig', 'att', 'sbom'].map((suffix) => `sha256-${hex}.${suffix}`);
}

const matches = (pattern: string | undefined, value: string, otherwise: boolean) => (pattern === undefined ? otherwise : new RegExp(pattern).test(value));

export function imageSelected(name: string, filter: ImageFilter): boolean {
  return matches(filter.images?.include, name, true) && !matches(filter.images?.exclude, name, false);
}

export function tagSelected(tag: string, filter: ImageFilter): boolean {
  if (isReferrerTag(tag)) return false;
  if (!matches(filter.tags?.include, tag, true) || matches(filter.tags?.exclude, tag, false)) return false;
  const range = filter.tags?.semver;
  if (range === undefined) return true;
  // `v1.2.3` and `1.2.3` are versions; `latest` and `1.2` are not and never satisfy a range.
  const version = semver.clean(tag, { loose: true });
  return version !== null && semver.satisfies(version, range);
}

/** `linux/arm64` keeps `linux/arm64` and `linux/arm64/v8`; `linux/arm/v7` keeps only that variant. */
export function platformSelected(platform: string | undefined, platforms: string[] | undefined): boolean {
  if (platforms === undefined || platforms.length === 0) return true;
  if (platform === undefined) return false;
  return platforms.some((wanted) => platform === wanted || platform.startsWith(`${wanted}/`));
}

/** Checks a filter's patterns and range once, at config load, so a typo fails early. */
export function filterProblems(filter: ImageFilter): string[] {
  const problems: string[] = [];
  for (const [field, pattern] of [
    ['images.include', filter.images?.include],
    ['images.exclude', filter.images?.exclude],
    ['tags.include', filter.tags?.include],
    ['tags.exclude', filter.tags?.exclude],
  ] as const) {
    if (pattern === undefined) continue;
    try {
      new RegExp(pattern);
    } catch (error) {
      problems.push(`${field}: not a regular expression (${(error as Error).message})`);
    }
  }
  if (filter.tags?.semver !== undefined && semver.validRange(filter.tags.semver) === null) problems.push(`tags.semver: not a semver range: ${filter.tags.semver}`);
  for (const [i, p] of (filter.platforms ?? []).entries()) {
    if (!PLATFORM.test(p)) problems.push(`platforms[${i}]: expected os/arch[/variant], e.g. linux/amd64`);
  }
  return problems;
}
