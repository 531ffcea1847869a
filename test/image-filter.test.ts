/** The content filter: which images, tags and platforms travel. Pure, so table-tested. */
import { describe, expect, it } from 'vitest';
import { filterProblems, imageSelected, isReferrerTag, platformSelected, referrerTagsFor, tagSelected } from '../shared/core/formats/docker/filter.ts';

const hex = 'a'.repeat(64);

describe('tagSelected', () => {
  it.each([
    { tag: 'latest', filter: {}, selected: true },
    { tag: '1.2.3', filter: { tags: { include: '^\\d' } }, selected: true },
    { tag: 'latest', filter: { tags: { include: '^\\d' } }, selected: false },
    { tag: '1.2.3-rc1', filter: { tags: { exclude: '-rc' } }, selected: false },
    { tag: 'v1.4.0', filter: { tags: { semver: '>=1.2.0 <2' } }, selected: true },
    { tag: '2.0.0', filter: { tags: { semver: '>=1.2.0 <2' } }, selected: false },
    { tag: '1.3.0-beta.1', filter: { tags: { semver: '>=1.2.0' } }, selected: false },
    { tag: 'latest', filter: { tags: { semver: '*' } }, selected: false },
    { tag: `sha256-${hex}.sig`, filter: {}, selected: false },
    { tag: `sha256-${hex}`, filter: {}, selected: false },
  ])('$tag with $filter → $selected', ({ tag, filter, selected }) => {
    expect(tagSelected(tag, filter)).toBe(selected);
  });
});

describe('imageSelected', () => {
  it.each([
    { name: 'team/app', filter: {}, selected: true },
    { name: 'team/app', filter: { images: { include: '^team/' } }, selected: true },
    { name: 'other/app', filter: { images: { include: '^team/' } }, selected: false },
    { name: 'team/app-debug', filter: { images: { exclude: '-debug$' } }, selected: false },
  ])('$name with $filter → $selected', ({ name, filter, selected }) => {
    expect(imageSelected(name, filter)).toBe(selected);
  });
});

describe('platformSelected', () => {
  it.each([
    { platform: 'linux/amd64', platforms: undefined, selected: true },
    { platform: undefined, platforms: undefined, selected: true },
    { platform: 'linux/arm64/v8', platforms: ['linux/arm64'], selected: true },
    { platform: 'linux/arm/v7', platforms: ['linux/arm/v6'], selected: false },
    { platform: 'linux/amd64', platforms: ['linux/arm64'], selected: false },
    { platform: undefined, platforms: ['linux/amd64'], selected: false },
  ])('$platform with $platforms → $selected', ({ platform, platforms, selected }) => {
    expect(platformSelected(platform, platforms)).toBe(selected);
  });
});

describe('referrer tags', () => {
  it('names the cosign tags of a subject and recognises them', () => {
    const tags = referrerTagsFor(`sha256:${hex}`);
    expect(tags).toEqual([`sha256-${hex}.sig`, `sha256-${hex}.att`, `sha256-${hex}.sbom`]);
    expect(tags.every(isReferrerTag)).toBe(true);
    expect(isReferrerTag('sha256-short.sig')).toBe(false);
  });

  it('reports bad patterns, ranges and platforms by field', () => {
    expect(filterProblems({ tags: { include: '(', semver: 'not a range' }, platforms: ['amd64'] })).toEqual([
      expect.stringMatching(/^tags\.include: not a regular expression/),
      'tags.semver: not a semver range: not a range',
      'platforms[0]: expected os/arch[/variant], e.g. linux/amd64',
    ]);
  });
});
