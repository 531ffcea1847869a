/** docker: no upload handler (images go through the registry API); tags are seeded. */
import type { StandinFormat } from './types.ts';

export const dockerStandin: StandinFormat = {
  format: 'docker',
  uploadSpec: { format: 'docker', multipleUpload: false, componentFields: [], assetFields: [] },
};
