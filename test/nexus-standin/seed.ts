/**
 * Seeding through the formats' own handlers: the same validation and stored paths as an
 * upload or a PUT, without the repository type, online and write-policy checks (a proxy's
 * cache is filled this way), and with a chosen lastModified.
 */
import { STANDIN_FORMATS, type FormatContext, type FormatResult, type ParsedForm } from './formats/index.ts';
import { SEED_ACTOR, type RepositoryState } from './store.ts';
import type { SeedForm } from './types.ts';

function repositoryOf(ctx: FormatContext, name: string): RepositoryState {
  const repo = ctx.store.repositories.get(name);
  if (repo === undefined) throw new Error(`seed: unknown repository ${name}`);
  if (repo.type === 'group') throw new Error(`seed: ${name} is a group repository`);
  return repo;
}

function land(ctx: FormatContext, repo: RepositoryState, result: FormatResult, lastModified: Date | undefined): { paths: string[] } {
  if ('errors' in result) throw new Error(`seed ${repo.name}: ${result.errors.join('; ')}`);
  for (const write of result.writes) ctx.store.writeAsset(repo.name, write, SEED_ACTOR, lastModified);
  STANDIN_FORMATS.get(repo.format)?.written?.(ctx, repo, result.writes);
  return { paths: result.writes.map((w) => w.path) };
}

export async function seedUpload(ctx: FormatContext, repository: string, seed: SeedForm, lastModified?: Date): Promise<{ paths: string[] }> {
  const repo = repositoryOf(ctx, repository);
  const format = STANDIN_FORMATS.get(repo.format);
  if (format?.upload === undefined) throw new Error(`seed: the ${repo.format} format takes no component uploads`);
  const form: ParsedForm = { fields: new Map(Object.entries(seed.fields ?? {})), files: new Map() };
  for (const file of seed.files) {
    const content = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content;
    form.files.set(file.field, { ...ctx.store.stageBuffer(content), filename: file.filename });
  }
  return land(ctx, repo, await format.upload(ctx, repo, form), lastModified);
}

export async function seedPut(ctx: FormatContext, repository: string, path: string, content: Buffer | string, lastModified?: Date): Promise<{ paths: string[] }> {
  const repo = repositoryOf(ctx, repository);
  const format = STANDIN_FORMATS.get(repo.format);
  if (format?.put === undefined) throw new Error(`seed: the ${repo.format} format takes no PUT`);
  const blob = ctx.store.stageBuffer(typeof content === 'string' ? Buffer.from(content, 'utf8') : content);
  const req = { headers: {} } as Parameters<NonNullable<typeof format.put>>[4];
  return land(ctx, repo, await format.put(ctx, repo, path, blob, req), lastModified);
}
