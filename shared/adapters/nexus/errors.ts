/**
 * Errors of the Nexus client. Each names the request (method and URL path + query, never
 * the origin's credentials) and keeps the underlying failure as `cause`.
 */

/** A message Nexus puts in an error body: `[{"id":"*","message":"…"}]`. */
export interface NexusMessage {
  id: string;
  message: string;
}

/** Nexus answered with a status other than the one the call expects. */
export class NexusHttpError extends Error {
  override readonly name = 'NexusHttpError';
  readonly method: string;
  /** URL path and query (base path prefix included), no origin, no credentials. */
  readonly path: string;
  readonly status: number;
  /** The first few hundred characters of the response body, credentials redacted. */
  readonly bodyExcerpt: string;
  readonly messages: NexusMessage[];
  /** Delay the server asked for (Retry-After), when it gave one. */
  readonly retryAfterMs: number | undefined;
  constructor(init: {
    method: string;
    path: string;
    status: number;
    bodyExcerpt: string;
    messages: NexusMessage[];
    retryAfterMs?: number | undefined;
    cause?: unknown;
  }) {
    const detail =
      init.messages.length > 0
        ? init.messages.map((m) => m.message).join('; ')
        : init.bodyExcerpt.replace(/\s+/g, ' ').trim();
    super(`${init.method} ${init.path}: HTTP ${init.status}${detail ? ` — ${detail}` : ''}`, { cause: init.cause });
    this.method = init.method;
    this.path = init.path;
    this.status = init.status;
    this.bodyExcerpt = init.bodyExcerpt;
    this.messages = init.messages;
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** A response that is not the JSON the API documents (fails its schema, or is not JSON). */
export class NexusResponseError extends Error {
  override readonly name = 'NexusResponseError';
  readonly method: string;
  readonly path: string;
  /** Field paths and what was wrong with them, e.g. `items[3].assets[0].path: expected string`. */
  readonly problems: string[];
  constructor(method: string, path: string, problems: string[], options?: { cause?: unknown }) {
    const shown = problems.slice(0, 3).join('; ');
    const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
    super(`${method} ${path}: unexpected response: ${shown}${more}`, options);
    this.method = method;
    this.path = path;
    this.problems = problems;
  }
}

/** The request never got a complete response: refused, reset, timed out, cut short. */
export class NexusNetworkError extends Error {
  override readonly name = 'NexusNetworkError';
  readonly method: string;
  readonly path: string;
  /** The system or undici error code (`ECONNRESET`, `UND_ERR_SOCKET`, …) when there is one. */
  readonly code: string | undefined;
  constructor(method: string, path: string, code: string | undefined, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`${method} ${path}: ${code ? `${code} ` : ''}${reason}`, { cause });
    this.method = method;
    this.path = path;
    this.code = code;
  }
}

/**
 * Downloaded content did not match the checksum or size Nexus published: the content is
 * refused and the download is not retried. `cause` is the ChecksumMismatchError or
 * SizeMismatchError from the verifying stream.
 */
export class NexusChecksumError extends Error {
  override readonly name = 'NexusChecksumError';
  readonly repository: string;
  readonly assetPath: string;
  constructor(repository: string, assetPath: string, cause: Error) {
    super(`${repository}${assetPath}: content refused: ${cause.message}`, { cause });
    this.repository = repository;
    this.assetPath = assetPath;
  }
}

/** An asset with no checksum at all cannot be verified, so Ferry will not carry it. */
export class MissingChecksumError extends Error {
  override readonly name = 'MissingChecksumError';
  constructor(what: string) {
    super(`${what}: no sha256, sha1, md5 or sha512 checksum to verify against`);
  }
}
