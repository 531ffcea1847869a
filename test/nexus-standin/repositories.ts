/** Repository metadata endpoints: /v1/repositories, /v1/repositorySettings, upload specs. */
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
  return settings;
}

export const RAW_UPLOAD_SPEC = {
  format: 'raw',
  multipleUpload: true,
  componentFields: [
    {
      name: 'directory',
      type: 'STRING',
      description: 'Destination for uploaded files (e.g. /path/to/files/)',
      optional: false,
      group: 'Component attributes',
    },
  ],
  assetFields: [{ name: 'filename', type: 'STRING', description: 'Filename', optional: false, group: 'Asset attributes' }],
};
