/**
 * Errors of the registry client, all {@link RegistryError}s. Each names the request (method
 * and URL path, never the origin's credentials, never a token) or the content at fault, and
 * keeps the underlying failure as `cause`.
 */
import { HttpError, networkDetail, problemsDetail, statusDetail } from '../../http/errors.ts';

/** One entry of the distribution spec's error body: `{"errors":[{"code","message","detail"}]}`. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
}

/** The base of the registry client's errors. */
export class RegistryError extends HttpError {
  override readonly name: string = 'RegistryError';
}

/** The registry answered with a status other than the one the call expects. */
export class RegistryHttpError extends RegistryError {
  override readonly name = 'RegistryHttpError';
  declare readonly method: string;
  /** URL path (base prefix included) and the meaningful part of the query; no origin. */
  declare readonly path: string;
  readonly status: number;
  /** The registry's `errors[]`, when it sent the spec's error body. */
  readonly errors: RegistryErrorEntry[];
  /** A short excerpt of a non-spec body, secrets redacted. */
  readonly bodyExcerpt: string;
  /** Delay the server asked for (Retry-After), when it gave one. */
  readonly retryAfterMs: number | undefined;
  /**
   * A 401 on a request whose body could not be replayed: the cached credentials were
   * dropped, so running the whole operation again will authenticate afresh.
   */
  readonly staleAuth: boolean;
  constructor(init: {
    method: string;
    path: string;
    status: number;
    errors?: RegistryErrorEntry[];
    bodyExcerpt?: string;
    retryAfterMs?: number | undefined;
    staleAuth?: boolean;
    cause?: unknown;
  }) {
    const errors = init.errors ?? [];
    const detail =
      errors.length > 0
        ? errors.map((e) => (e.message ? `${e.code}: ${e.message}` : e.code)).join('; ')
        : (init.bodyExcerpt ?? '').replace(/\s+/g, ' ').trim().slice(0, 200);
    super(init, statusDetail(init.status, detail), { cause: init.cause });
    this.status = init.status;
    this.errors = errors;
    this.bodyExcerpt = init.bodyExcerpt ?? '';
    this.retryAfterMs = init.retryAfterMs;
    this.staleAuth = init.staleAuth ?? false;
  }

  /** True when the registry reported this error code (e.g. `MANIFEST_UNKNOWN`). */
  hasCode(code: string): boolean {
    return this.errors.some((e) => e.code === code);
  }
}

/**
 * Authentication failed: credentials refused, none configured where the registry wants
 * some, a token endpoint that failed or answered without a token, or a challenge Ferry
 * cannot answer.
 */
export class RegistryAuthError extends RegistryError {
  override readonly name = 'RegistryAuthError';
  declare readonly method: string;
  declare readonly path: string;
  constructor(method: string, path: string, reason: string, options?: { cause?: unknown }) {
    super({ method, path }, `authentication failed: ${reason}`, options);
  }
}

/** The request never got a complete response: refused, reset, timed out, cut short. */
export class RegistryNetworkError extends RegistryError {
  override readonly name = 'RegistryNetworkError';
  declare readonly method: string;
  declare readonly path: string;
  /** The system or undici error code (`ECONNRESET`, `UND_ERR_SOCKET`, …) when there is one. */
  readonly code: string | undefined;
  constructor(method: string, path: string, code: string | undefined, cause: unknown) {
    super({ method, path }, networkDetail(code, cause), { cause });
    this.code = code;
  }
}

/**
 * An image manifest (or another JSON document a registry serves: a tag list, the catalog)
 * that is not what it should be: not JSON, fails its schema (the problems name JSON field
 * paths), too large, or whose bytes do not hash to the digest the registry or the reference
 * announced. Not the bundle's manifest: that is the bundle module's ManifestError.
 */
export class ImageManifestError extends RegistryError {
  override readonly name = 'ImageManifestError';
  /** What manifest, e.g. `library/alpine:3.20` or `repo@sha256:…`. */
  readonly where: string;
  readonly problems: string[];
  constructor(where: string, problems: string[], options?: { cause?: unknown }) {
    super(where, `bad manifest: ${problemsDetail(problems)}`, options);
    this.where = where;
    this.problems = problems;
  }
}

/**
 * Blob content did not match its digest or size (the cause is the ChecksumMismatchError or
 * SizeMismatchError of the verifying stream). Refused, never retried.
 */
export class BlobDigestError extends RegistryError {
  override readonly name = 'BlobDigestError';
  readonly repository: string;
  readonly digest: string;
  constructor(repository: string, digest: string, cause: Error) {
    super(`${repository}@${digest}`, `content refused: ${cause.message}`, { cause });
    this.repository = repository;
    this.digest = digest;
  }
}
