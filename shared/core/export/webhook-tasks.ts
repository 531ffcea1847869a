/**
 * What a source change event (a Nexus webhook, parsed and verified by the Nexus adapter)
 * means for Ferry: the same copy tasks a scan would produce. Webhooks are lossy and
 * unordered (Nexus never retries a failed delivery), so they only make things faster: the
 * scheduled scan is what guarantees nothing is lost, and the entry ledger plus
 * content-derived task ids make a webhook and a scan for the same change collapse into one
 * task.
 */
import type { Log } from '../log.ts';
import type { CopyTask, ExportState, SourceAsset, SourceComponent } from '../ports/index.ts';
import { taskForAsset, type ScanRepository } from './scan.ts';
import { afterLatestEntry } from './task-ids.ts';
import { carryDeletion, type CarriedDeletion } from './tombstones.ts';

/** A change the source reported (the fields of a Nexus webhook body Ferry reads). */
export interface SourceEvent {
  repositoryName: string;
  action: 'CREATED' | 'UPDATED' | 'DELETED' | 'PURGED';
  component?: { componentId: string; name: string; group?: string | undefined; version?: string | undefined } | undefined;
  asset?: { assetId: string; name: string } | undefined;
  components?: string[] | undefined;
  assets?: string[] | undefined;
}

/** What a webhook handler needs of the source Nexus (the NexusClient has all three). */
export interface WebhookSource {
  getComponent(id: string): Promise<SourceComponent>;
  getAsset(id: string): Promise<SourceAsset & { repository: string }>;
  /** Whether the repository serves the path now (`HEAD /repository/R<path>`): a late DELETED event is checked against it. */
  hasPath(repository: string, path: string, options?: { accept?: string }): Promise<boolean>;
}

export interface WebhookDeps {
  source: WebhookSource;
  state: ExportState;
  log?: Log;
  /** A configured group's leaf members (export/groups.ts memberLookup): its members' events count for it. */
  membersOf?: ((group: string) => Promise<string[]>) | undefined;
}

/**
 * The configured repository an event belongs to: itself, or the group it is a member of (then
 * read as that member, `group` naming the group).
 */
async function repositoryOf(deps: WebhookDeps, name: string, repositories: readonly ScanRepository[]): Promise<{ repository: ScanRepository; group?: string } | undefined> {
  const direct = repositories.find((r) => r.name === name);
  if (direct !== undefined) return { repository: direct };
  if (deps.membersOf === undefined) return undefined;
  for (const repository of repositories) {
    if (repository.format === 'docker') continue;
    if ((await deps.membersOf(repository.name)).includes(name)) return { repository: { ...repository, name }, group: repository.name };
  }
  return undefined;
}

/** A deletion Nexus reported: a tombstone for the far side when the repository carries deletions, else only logged. */
export interface WebhookDeletion {
  repository: string;
  action: 'DELETED' | 'PURGED';
  kind: 'component' | 'asset';
  ids: string[];
  /** The component's coordinates or the asset's path, when the event named one. */
  name?: string | undefined;
  /** A component event's coordinates. */
  component?: { group?: string | undefined; name: string; version?: string | undefined } | undefined;
}

export interface WebhookTasks {
  tasks: CopyTask[];
  /** Assets whose exact content is already staged or sealed: no task. */
  alreadyStaged: number;
  /** Why no task came out, when none did for a reason other than "already staged". */
  ignored?: 'repository not configured' | 'deleted' | 'gone from the source' | undefined;
  deletion?: WebhookDeletion | undefined;
  /** The repository carries deletions: what became of this one. */
  carried?: CarriedDeletion | undefined;
}

/**
 * The copy tasks for a webhook event: a component event yields one task per asset of the
 * component as the source now lists it, an asset event one task for that asset. The
 * event's own fields are never trusted for content: the checksums come from the REST API.
 */
export async function tasksForWebhook(deps: WebhookDeps, event: SourceEvent, repositories: readonly ScanRepository[]): Promise<WebhookTasks> {
  const configured = await repositoryOf(deps, event.repositoryName, repositories);
  if (configured === undefined) return { tasks: [], alreadyStaged: 0, ignored: 'repository not configured' };
  const { repository, group } = configured;
  if (event.action === 'DELETED' || event.action === 'PURGED') {
    const deletion = deletionOf(event);
    // A configured group's member event comes as the member: the ledger keeps member names (groups
    // are scanned as their members). Whether the path is still served is the group's answer.
    const carried = repository.carryDeletions === true ? await carryDeletion(deps, repository, deletion, group) : undefined;
    return { tasks: [], alreadyStaged: 0, ignored: 'deleted', deletion, ...(carried !== undefined ? { carried } : {}) };
  }

  let assets: SourceAsset[];
  let component: SourceComponent | undefined;
  try {
    if (event.component !== undefined) {
      component = await deps.source.getComponent(event.component.componentId);
      assets = component.assets;
    } else if (event.asset !== undefined) {
      const asset = await deps.source.getAsset(event.asset.assetId);
      // An id names its repository; a group could otherwise hand back a member's asset.
      assets = asset.repository === repository.name ? [asset] : [];
    } else {
      assets = [];
    }
  } catch (error) {
    // Deleted again before we asked (or not visible to us): nothing to copy; a later
    // DELETED event or the scan settles it.
    if ((error as { status?: unknown }).status === 404) {
      deps.log?.info(`webhook for ${event.repositoryName}: the ${event.component ? 'component' : 'asset'} is gone from the source`, {
        repository: event.repositoryName,
      });
      return { tasks: [], alreadyStaged: 0, ignored: 'gone from the source' };
    }
    throw error;
  }

  const tasks = new Map<string, CopyTask>();
  let alreadyStaged = 0;
  for (const asset of assets) {
    const at = await deps.state.entryAt(repository.name, asset.path, asset.checksums);
    if (at.known) {
      alreadyStaged += 1;
      continue;
    }
    const task = taskForAsset(repository, asset, component);
    if (task === undefined) continue;
    const queued = afterLatestEntry(task, at);
    tasks.set(queued.id, queued);
  }
  return { tasks: [...tasks.values()], alreadyStaged };
}

function deletionOf(event: SourceEvent): WebhookDeletion {
  const action = event.action as 'DELETED' | 'PURGED';
  if (event.component !== undefined) {
    const { group, name, version } = event.component;
    return {
      repository: event.repositoryName,
      action,
      kind: 'component',
      ids: [event.component.componentId],
      name: [group, name, version].filter((part) => part !== undefined && part !== '').join(':'),
      component: { group, name, version },
    };
  }
  if (event.asset !== undefined) {
    return { repository: event.repositoryName, action, kind: 'asset', ids: [event.asset.assetId], name: event.asset.name };
  }
  if (event.assets !== undefined) return { repository: event.repositoryName, action, kind: 'asset', ids: event.assets };
  return { repository: event.repositoryName, action, kind: 'component', ids: event.components ?? [] };
}
