/** Repository metadata endpoints: /v1/repositories, /v1/repositorySettings. */
import type { RepositoryState } from './store.ts';

export function renderRepository(baseUrl: string, repo: RepositoryState): Record<string, unknown> {
  return {
    name: repo.name,
    format: repo.format,
    type: repo.type,
    url: `${baseUrl}/repository/${repo.name}`,
    attributes: repo.type === 'proxy' ? { proxy: { remoteUrl: repo.remoteUrl ?? 'https://repo.example.invalid/' } } : {},
  };
}

export function renderRepositorySettings(baseUrl: string, repo: RepositoryState): Record<string, unknown> {
  const settings: Record<string, unknown> = {
    name: repo.name,
    format: repo.format,
    type: repo.type,
    url: `${baseUrl}/repository/${repo.name}`,
    online: repo.online,
    storage:
      repo.type === 'hosted'
        ? { blobStoreName: 'default', strictContentTypeValidation: true, writePolicy: repo.writePolicy }
        : { blobStoreName: 'default', strictContentTypeValidation: true },
    cleanup: null,
  };
  if (repo.type === 'group') settings['group'] = { memberNames: repo.memberNames };
  if (repo.type === 'proxy') {
    settings['proxy'] = { remoteUrl: repo.remoteUrl ?? 'https://repo.example.invalid/', contentMaxAge: 1440, metadataMaxAge: 1440 };
    settings['negativeCache'] = { enabled: true, timeToLive: 1440 };
    settings['httpClient'] = { blocked: false, autoBlock: true, connection: null, authentication: null };
  }
  if (repo.type === 'hosted') settings['component'] = { proprietaryComponents: false };
  if (repo.format === 'raw') settings['raw'] = { contentDisposition: 'ATTACHMENT' };
  if (repo.format === 'maven2') settings['maven'] = { versionPolicy: repo.versionPolicy ?? 'RELEASE', layoutPolicy: 'STRICT', contentDisposition: 'INLINE' };
  return settings;
}
