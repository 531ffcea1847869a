/**
 * Group repositories as sources. A group lists its members' content under its own name,
 * which hides where an item lives and would carry an item twice when two members hold it.
 * So a configured group is scanned as its members (`memberNames`, nested groups flattened,
 * in resolution order): each task names the member it downloads from, each member keeps
 * its own watermark, and a path an earlier member holds is not carried from a later one
 * (the group would serve the earlier member's). A member also configured on its own, or in
 * two configured groups, is refused: one item would otherwise go to two targets.
 */
import type { ArtifactSource } from '../ports/index.ts';
import type { ScanRepository } from './scan.ts';

type Listed = Awaited<ReturnType<ArtifactSource['repositories']>>[number];

/** A group's leaf members (hosted or proxy), in resolution order, each once. */
export function leafMembers(listed: ReadonlyMap<string, Listed>, group: string): string[] {
  const out: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string): void => {
    const repo = listed.get(name);
    if (repo === undefined || visiting.has(name)) return;
    if (repo.type !== 'group') {
      if (!out.includes(name)) out.push(name);
      return;
    }
    visiting.add(name);
    for (const member of repo.memberNames ?? []) visit(member);
  };
  visit(group);
  return out;
}

/**
 * A group's leaf members as the source says now, re-read at most every `ttlMs`: what a
 * webhook handler asks when an event names a repository that is not configured, since
 * groups have no webhooks of their own and their members' events must count.
 */
export function memberLookup(source: Pick<ArtifactSource, 'repositories'>, ttlMs = 5 * 60_000): (group: string) => Promise<string[]> {
  let listing: Promise<ReadonlyMap<string, Listed>> | undefined;
  let readAt = 0;
  return async (group) => {
    if (listing === undefined || Date.now() - readAt > ttlMs) {
      readAt = Date.now();
      listing = source.repositories().then((all) => new Map(all.map((r) => [r.name, r])));
      listing.catch(() => {
        listing = undefined; // a failed read is not cached
      });
    }
    return leafMembers(await listing, group);
  };
}

/** What is wrong with the configured groups, by configured index. */
export function groupProblems(listed: ReadonlyMap<string, Listed>, repositories: readonly ScanRepository[]): { index: number; repository: string; problem: string }[] {
  const problems: { index: number; repository: string; problem: string }[] = [];
  const claimedBy = new Map<string, string>();
  for (const repository of repositories) if (listed.get(repository.name)?.type !== 'group') claimedBy.set(repository.name, repository.name);
  for (const [index, repository] of repositories.entries()) {
    if (listed.get(repository.name)?.type !== 'group') continue;
    if (repository.format === 'docker') {
      problems.push({ index, repository: repository.name, problem: `${repository.name} is a docker group: configure its members, each with its registry` });
      continue;
    }
    const members = leafMembers(listed, repository.name);
    if (members.length === 0) problems.push({ index, repository: repository.name, problem: `group ${repository.name} has no hosted or proxy members to scan` });
    for (const member of members) {
      const other = claimedBy.get(member);
      if (other !== undefined && other !== repository.name) {
        const where = other === member ? 'on its own' : `through group ${other}`;
        problems.push({ index, repository: repository.name, problem: `member ${member} of group ${repository.name} is also configured ${where}: configure it once, or each item would go to two targets` });
      } else claimedBy.set(member, repository.name);
    }
  }
  return problems;
}
