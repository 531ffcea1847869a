/**
 * Uploads: the multipart components API and the repository view's PUT and POST, each
 * handed to its format (formats/). Content is streamed to a temp file while hashing,
 * validated, then moved into the store in one synchronous step so a half-received upload
 * never becomes visible.
 */
import busboy from 'busboy';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { STANDIN_FORMATS, type FormatContext, type ParsedForm } from './formats/index.ts';
import { sendEmpty, sendErrorPage, sendText, sendValidationErrors } from './http.ts';
import type { Actor, AssetWrite, RepositoryState, StagedBlob, Store } from './store.ts';

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

function discard(form: ParsedForm): void {
  for (const blob of form.files.values()) rmSync(blob.file, { force: true });
}

export async function parseMultipart(store: Store, req: IncomingMessage): Promise<ParsedForm> {
  const form: ParsedForm = { fields: new Map(), files: new Map() };
  const parser = busboy({ headers: req.headers, limits: { fieldSize: 1024 * 1024 } });
  const staging: Promise<void>[] = [];
  parser.on('field', (name, value) => {
    form.fields.set(name, value);
  });
  parser.on('file', (name, stream, info) => {
    staging.push(
      stage(store, stream).then((blob) => {
        const previous = form.files.get(name);
        if (previous !== undefined) rmSync(previous.file, { force: true });
        form.files.set(name, { ...blob, filename: info.filename ?? '' });
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

/** Applies a format's writes after the write policy allows all of them; the refusal otherwise. */
export function applyWrites(
  ctx: FormatContext,
  repo: RepositoryState,
  writes: readonly AssetWrite[],
  actor: Actor,
): { policy: 'deny' | 'allow_once'; path: string } | undefined {
  const refused = ctx.store.writesRefusal(repo.name, writes);
  if (refused !== undefined) return refused;
  for (const write of writes) {
    ctx.store.writeAsset(repo.name, write, actor);
    ctx.store.countUpload(repo.name, write.path);
  }
  STANDIN_FORMATS.get(repo.format)?.written?.(ctx, repo, writes);
  return undefined;
}

/** Releases the staged files of a form that were not written. */
function release(form: ParsedForm, written: readonly AssetWrite[]): void {
  const moved = new Set(written.map((w) => w.blob.file));
  for (const blob of form.files.values()) if (!moved.has(blob.file)) rmSync(blob.file, { force: true });
}

/** POST /service/rest/v1/components?repository=R */
export async function handleComponentUpload(
  ctx: FormatContext,
  repository: string | null,
  actor: Actor,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { store } = ctx;
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
  const format = STANDIN_FORMATS.get(repo.format);
  const refusal =
    repo.type !== 'hosted'
      ? `Uploading components to a '${repo.type}' type repository is unsupported, must be 'hosted'`
      : !repo.online
        ? `Repository offline: ${repository}`
        : format?.upload === undefined
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
  let written: readonly AssetWrite[] = [];
  try {
    if (refusal !== undefined || format?.upload === undefined) {
      sendValidationErrors(res, 400, [refusal ?? 'unsupported']);
      return;
    }
    const result = await format.upload(ctx, repo, form);
    if ('errors' in result) {
      sendValidationErrors(res, result.status ?? 400, result.errors);
      return;
    }
    const refused = applyWrites(ctx, repo, result.writes, actor);
    if (refused !== undefined) {
      sendValidationErrors(res, 400, [refused.policy === 'deny' ? `${repository} is read-only` : `${repository}${refused.path} cannot be updated`]);
      return;
    }
    written = result.writes;
    sendEmpty(res, result.status ?? 204);
  } finally {
    release(form, written);
  }
}

/** PUT or POST /repository/R/<path>: the format's own client (raw and maven PUT, the PyPI upload API…). */
export async function handleRepositoryWrite(
  ctx: FormatContext,
  repo: RepositoryState,
  rawPath: string,
  actor: Actor,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (!repo.online) {
    req.resume();
    sendErrorPage(res, 503, `Repository offline`);
    return;
  }
  const format = STANDIN_FORMATS.get(repo.format);
  const handler = req.method === 'PUT' ? format?.put : format?.post;
  if (repo.type !== 'hosted' || handler === undefined) {
    req.resume();
    sendErrorPage(res, 405, 'Method Not Allowed');
    return;
  }
  let form: ParsedForm;
  try {
    if (req.method === 'PUT') {
      const blob = await stage(ctx.store, req);
      form = { fields: new Map(), files: new Map([['', { ...blob, filename: '' }]]) };
    } else {
      form = await parseMultipart(ctx.store, req);
    }
  } catch {
    if (!res.headersSent && !req.destroyed) sendErrorPage(res, 400, 'Unable to read the request body');
    return; // client went away mid-body: nothing written
  }
  let written: readonly AssetWrite[] = [];
  try {
    const result =
      req.method === 'PUT'
        ? await format!.put!(ctx, repo, rawPath, form.files.get('')!, req)
        : await format!.post!(ctx, repo, rawPath, form);
    if ('errors' in result) {
      sendErrorPage(res, result.status ?? 400, result.errors.join('; '));
      return;
    }
    const refused = applyWrites(ctx, repo, result.writes, actor);
    if (refused !== undefined) {
      sendErrorPage(res, 400, refused.policy === 'deny' ? `Repository is read only: ${repo.name}` : `Repository does not allow updating assets: ${repo.name}`);
      return;
    }
    written = result.writes;
    sendEmpty(res, result.status ?? (req.method === 'PUT' ? 201 : 200));
  } finally {
    release(form, written);
  }
}
