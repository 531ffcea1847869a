/** raw: `raw.directory` + `raw.assetN` + `raw.assetN.filename`, and PUT of any path. */
import { isValidAssetPath, normalisePath, rawCoordinates } from '../format.ts';
import type { AssetWrite } from '../store.ts';
import type { FormatResult, ParsedForm, StandinFormat } from './types.ts';

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

function rawWrite(path: string, blob: AssetWrite['blob']): AssetWrite {
  const { group, name } = rawCoordinates(path);
  return { path, blob, component: { group, name, version: '' }, attributes: { contentDisposition: 'ATTACHMENT' } };
}

/** Checks the raw form and returns the asset writes, or Nexus-style error messages. */
function validateRawForm(form: ParsedForm): FormatResult {
  const errors: string[] = [];
  const assetKeys = new Set<string>();
  for (const name of form.files.keys()) {
    if (/^raw\.asset\d+$/.test(name)) assetKeys.add(name.slice(4));
    else errors.push(`Unknown field name: ${name}`);
  }
  for (const name of form.fields.keys()) {
    if (name === 'raw.directory') continue;
    const match = /^raw\.(asset\d+)\.filename$/.exec(name);
    if (match === null || !assetKeys.has(match[1] ?? '')) errors.push(`Unknown field name: ${name}`);
  }
  if (assetKeys.size === 0) errors.push('No assets found in upload');
  const directory = form.fields.get('raw.directory');
  if (directory === undefined || directory.trim() === '') errors.push("Missing required component field 'Directory'");
  const writes: AssetWrite[] = [];
  const seen = new Map<string, string>();
  for (const key of [...assetKeys].sort()) {
    const filename = form.fields.get(`raw.${key}.filename`);
    if (filename === undefined || filename.trim() === '') {
      errors.push(`Missing required asset field 'Filename' on '${key.slice(5)}'`);
      continue;
    }
    if (directory === undefined) continue;
    const path = normalisePath(`${directory}/${filename}`);
    if (!isValidAssetPath(path)) {
      errors.push(`Path is not allowed to have '.' or '..' segments: '${path}'`);
      continue;
    }
    const clash = seen.get(path);
    if (clash !== undefined) errors.push(`The assets ${clash.slice(5)} and ${key.slice(5)} have identical coordinates`);
    seen.set(path, key);
    const blob = form.files.get(`raw.${key}`);
    if (blob !== undefined) writes.push(rawWrite(path, blob));
  }
  return errors.length > 0 ? { errors } : { writes };
}

export const rawStandin: StandinFormat = {
  format: 'raw',
  uploadSpec: RAW_UPLOAD_SPEC,
  upload: async (_ctx, _repo, form) => validateRawForm(form),
  put: async (_ctx, _repo, path, blob) => {
    const normalised = normalisePath(path);
    if (path.endsWith('/') || !isValidAssetPath(normalised)) return { errors: [`Invalid path: ${path}`] };
    return { writes: [rawWrite(normalised, blob)] };
  },
};
