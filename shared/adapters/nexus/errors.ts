/**
 * Errors of the Nexus client, all {@link NexusError}s. Each names the request (method and
 * URL path + query, never the origin's credentials) or the content at fault, and keeps the
 * underlying failure as `cause`.
 */
import { HttpError, networkDetail, problemsDetail, statusDetail } from '../../http/errors.ts';

/** A message Nexus puts in an error body: `[{"id":"*","message":"…"}]`. */
export interface NexusMessage {
  id: string;
  message: string;
}

/** The base of the Nexus client's errors. */
export class NexusError extends HttpError {
  override readonly name: string = 'NexusError';
}

/** Nexus answered with a status other than the one the call expects. */
export class NexusHttpError extends NexusError {
  override readonly name = 'NexusHttpError';
  declare readonly method: string;
  declare readonly path: string;
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
    super(init, statusDetail(init.status, detail), { cause: init.cause });
    this.status = init.status;
    this.bodyExcerpt = init.bodyExcerpt;
    this.messages = init.messages;
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** A response that is not the JSON the API documents (fails its schema, or is not JSON). */
export class NexusResponseError extends NexusError {
  override readonly name = 'NexusResponseError';
  declare readonly method: string;
  declare readonly path: string;
  /** Field paths and what was wrong with them, e.g. `items[3].assets[0].path: expected string`. */
  readonly problems: string[];
  constructor(method: string, path: string, problems: string[], options?: { cause?: unknown }) {
    super({ method, path }, `unexpected response: ${problemsDetail(problems)}`, options);
    this.problems = problems;
  }
}

/** The request never got a complete response: refused, reset, timed out, cut short. */
export class NexusNetworkError extends NexusError {
  override readonly name = 'NexusNetworkError';
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
 * Downloaded content did not match the checksum or size Nexus published: the content is
 * refused and the download is not retried. `cause` is the ChecksumMismatchError or
 * SizeMismatchError from the verifying stream.
 */
export class NexusChecksumError extends NexusError {
  override readonly name = 'NexusChecksumError';
  readonly repository: string;
  readonly assetPath: string;
  constructor(repository: string, assetPath: string, cause: Error) {
    super(`${repository}${assetPath}`, `content refused: ${cause.message}`, { cause });
    this.repository = repository;
    this.assetPath = assetPath;
  }
}

/** An asset with no checksum at all cannot be verified, so Ferry will not carry it. */
export class MissingChecksumError extends NexusError {
  override readonly name = 'MissingChecksumError';
  constructor(what: string) {
    super(what, 'no sha256, sha1, md5 or sha512 checksum to verify against');
  }
}

/** A webhook body that is not the JSON Nexus sends; `field` is the path of the first problem. */
export class WebhookPayloadError extends NexusError {
  override readonly name = 'WebhookPayloadError';
  readonly field: string;
  constructor(field: string, problem: string, options?: { cause?: unknown }) {
    super(field, problem, options);
    this.field = field;
  }
}
