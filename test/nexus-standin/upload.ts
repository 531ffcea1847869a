/**
 * Uploads: the multipart components API (raw only) and the raw repository PUT. Content is
 * streamed to a temp file while hashing, validated, then moved into the store in one
 * synchronous step so a half-received upload never becomes visible.
 */
import busboy from 'busboy';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isValidAssetPath, normalisePath } from './format.ts';
import { sendEmpty, sendErrorPage, sendText, sendValidationErrors } from './http.ts';
import type { Actor, StagedBlob, Store } from './store.ts';

const ALGORITHMS = ['sha1', 'sha512', 'sha256', 'md5'] as const;

/** Streams content to a fresh temp file, hashing as it goes; removes the file on failure. */
export async function stage(store: Store, source: Readable): Promise<StagedBlob> {
  const file = join(store.tmpDir, randomUUID());
  const hashes = ALGORITHMS.map((algorithm) => createHash(algorithm));
  let size = 0;
  const hasher = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      size += chunk.length;
      for (const hash of hashes) hash.update(chunk);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(source, hasher, createWriteStream(file));
  } catch (error) {
    rmSync(file, { force: true });
    throw error;
  }
  const [sha1, sha512, sha256, md5] = hashes.map((hash) => hash.digest('hex')) as [string, string, string, string];
  return { file, size, checksum: { sha1, sha512, sha256, md5 } };
}

interface ParsedForm {
  fields: Map<string, string>;
  files: Map<string, StagedBlob>;
}

function discard(form: ParsedForm): void {
  for (const blob of form.files.values()) rmSync(blob.file, { force: true });
}

async function parseMultipart(store: Store, req: IncomingMessage): Promise<ParsedForm> {
  const form: ParsedForm = { fields: new Map(), files: new Map() };
  const parser = busboy({ headers: req.headers, limits: { fieldSize: 1024 * 1024 } });
  const staging: Promise<void>[] = [];
  parser.on('field', (name, value) => {
    form.fields.set(name, value);
  });
  parser.on('file', (name, stream) => {
    staging.push(
      stage(store, stream).then((blob) => {
        const previous = form.files.get(name);
        if (previous !== undefined) rmSync(previous.file, { force: true });
        form.files.set(name, blob);
      }),
    );
  });
  try {
    await pipeline(req, parser);
    await Promise.all(staging);
  } catch (error) {
    await Promise.allSettled(staging);
    discard(form);
    throw error;
  }
  return form;
}

/** Checks the raw form and returns the asset paths it writes, or Nexus-style error messages. */
function validateRawForm(form: ParsedForm): { paths: Map<string, string> } | { errors: string[] } {
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
  const paths = new Map<string, string>();
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
    paths.set(key, path);
  }
  return errors.length > 0 ? { errors } : { paths };
}

/** POST /service/rest/v1/components?repository=R */
export async function handleComponentUpload(
  store: Store,
  repository: string | null,
  actor: Actor,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (repository === null || repository === '') {
    sendValidationErrors(res, 422, ['must not be null'], 'PARAMETER repository');
    return;
  }
  const repo = store.repositories.get(repository);
  if (repo === undefined) {
    sendText(res, 404, 'Repository not found');
    return;
  }
  const contentType = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    sendValidationErrors(res, 400, ['Expected multipart/form-data content']);
    return;
  }
  const refusal =
    repo.type !== 'hosted'
      ? `Uploading components to a '${repo.type}' type repository is unsupported, must be 'hosted'`
      : !repo.online
        ? `Repository offline: ${repository}`
        : repo.format !== 'raw'
          ? `Uploading components to '${repo.format}' repositories is unsupported`
          : undefined;
  let form: ParsedForm;
  try {
    form = await parseMultipart(store, req);
  } catch (error) {
    if (!res.headersSent && !req.destroyed) {
      sendValidationErrors(res, 400, [`Unable to parse multipart request: ${(error as Error).message}`]);
    }
    return;
  }
  try {
    if (refusal !== undefined) {
      sendValidationErrors(res, 400, [refusal]);
      return;
    }
    const checked = validateRawForm(form);
    if ('errors' in checked) {
      sendValidationErrors(res, 400, checked.errors);
      return;
    }
    for (const path of checked.paths.values()) {
      const policy = store.writeRefusal(repository, path);
      if (policy === 'deny') {
        sendValidationErrors(res, 400, [`${repository} is read-only`]);
        return;
      }
      if (policy === 'allow_once') {
        sendValidationErrors(res, 400, [`${repository}${path} cannot be updated`]);
        return;
      }
    }
    for (const [key, path] of checked.paths) {
      const blob = form.files.get(`raw.${key}`);
      if (blob === undefined) continue;
      store.writeRaw(repository, path, blob, actor);
      form.files.delete(`raw.${key}`);
      store.countUpload(repository, path);
    }
    sendEmpty(res, 204);
  } finally {
    discard(form);
  }
}

/** PUT /repository/R/<path> (raw hosted). */
export async function handleRawPut(
  store: Store,
  repository: string,
  rawPath: string,
  actor: Actor,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const repo = store.repositories.get(repository);
  if (repo === undefined) {
    sendErrorPage(res, 404, 'Repository not found');
    return;
  }
  if (!repo.online) {
    sendErrorPage(res, 503, `Repository offline`);
    return;
  }
  if (repo.type !== 'hosted' || repo.format !== 'raw') {
    sendErrorPage(res, 405, 'Method Not Allowed');
    return;
  }
  const path = normalisePath(rawPath);
  if (rawPath.endsWith('/') || !isValidAssetPath(path)) {
    sendErrorPage(res, 400, `Invalid path: ${rawPath}`);
    return;
  }
  let blob: StagedBlob;
  try {
    blob = await stage(store, req);
  } catch {
    return; // client went away mid-body: nothing written
  }
  const policy = store.writeRefusal(repository, path);
  if (policy !== undefined) {
    rmSync(blob.file, { force: true });
    sendErrorPage(
      res,
      400,
      policy === 'deny' ? `Repository is read only: ${repository}` : `Repository does not allow updating assets: ${repository}`,
    );
    return;
  }
  store.writeRaw(repository, path, blob, actor);
  store.countUpload(repository, path);
  sendEmpty(res, 201);
}
