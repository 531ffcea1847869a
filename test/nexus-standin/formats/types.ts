/**
 * The stand-in's format seam: what one Nexus format does on upload (the components API
 * fields and errors), on a PUT or POST to the repository view (the format's own client),
 * and on read (what Nexus generates: indexes, packuments, metadata). The server checks
 * what every format shares (repository exists, hosted, online, write policy) and applies
 * the writes a handler returns all together, so an upload lands whole or not at all.
 */
import type { IncomingMessage } from 'node:http';
import type { AssetWrite, RepositoryState, StagedBlob, Store } from '../store.ts';

/** A parsed multipart form: text fields, and file parts staged to temp files. */
export interface ParsedForm {
  fields: Map<string, string>;
  files: Map<string, StagedBlob & { filename: string }>;
}

export interface FormatContext {
  store: Store;
  /** `http://127.0.0.1:<port>`: for absolute URLs in generated documents (npm tarball URLs). */
  baseUrl: string;
}

/**
 * Writes to apply (answered with `status`, by default 204 for the components API, 201 for a
 * PUT, 200 for a POST), or Nexus's error messages (400 unless `status` says otherwise).
 */
export type FormatResult = { writes: AssetWrite[]; status?: number } | { errors: string[]; status?: number };

/** A generated document: an index, a packument, metadata. */
export interface Generated {
  status: number;
  contentType: string;
  body: Buffer;
}

export interface StandinFormat {
  readonly format: string;
  /** `GET /v1/formats/{format}/upload-specs`. */
  readonly uploadSpec: object;
  /**
   * `POST /v1/components?repository=R` on a hosted, online repository of this format:
   * validate the form as Nexus does (unknown fields, missing fields, wrong file names) and
   * read what the format reads from the files. Without it the format takes no component
   * uploads ("Uploading components to '<format>' repositories is unsupported").
   */
  upload?(ctx: FormatContext, repo: RepositoryState, form: ParsedForm): Promise<FormatResult>;
  /**
   * `GET`/`HEAD /repository/R/<path>` for what the format generates; undefined falls
   * through to the stored asset at that path. `repo` may be a group.
   */
  read?(ctx: FormatContext, repo: RepositoryState, path: string): Promise<Generated | undefined>;
  /** `PUT /repository/R/<path>` on a hosted repository, the content already staged. Without it: 405. */
  put?(ctx: FormatContext, repo: RepositoryState, path: string, blob: StagedBlob, req: IncomingMessage): Promise<FormatResult>;
  /** `POST /repository/R/<path>` (the PyPI upload API, helm's `api/charts`), the form parsed. Without it: 405. */
  post?(ctx: FormatContext, repo: RepositoryState, path: string, form: ParsedForm): Promise<FormatResult>;
  /** `DELETE /repository/R/<path>` on a hosted repository for what the format answers itself (npm dist-tags); undefined deletes the stored asset. */
  remove?(ctx: FormatContext, repo: RepositoryState, path: string): Promise<Generated | undefined>;
  /** After writes landed: rebuild what Nexus rebuilds (maven metadata, a debounced helm index). */
  written?(ctx: FormatContext, repo: RepositoryState, writes: readonly AssetWrite[]): void;
}
