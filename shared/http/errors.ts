/**
 * The error family both HTTP clients (Nexus, registries) share, and the message shapes of
 * their common failures — an unexpected status, a request that got no complete response, a
 * response that is not what the API documents — written once.
 */
import { FerryError } from '../errors.ts';

/** A request as errors name it: the method and the URL path with the meaningful query; no origin, no credentials. */
export interface HttpRequestRef {
  method: string;
  path: string;
}

/**
 * Base of `NexusError` (adapters/nexus) and `RegistryError` (adapters/registry). The message is `<where>: <detail>`,
 * where `<where>` is the request (`GET /service/rest/v1/assets?repository=raw`) or, for
 * content refused after it arrived, what the content is (`raw/a/b.bin`,
 * `library/alpine@sha256:…`). Never the origin's credentials, never a token.
 */
export class HttpError extends FerryError {
  override readonly name: string = 'HttpError';
  /** The request's method; undefined when the error is about content rather than a request. */
  readonly method: string | undefined;
  /** URL path and query (base path prefix included), no origin; undefined as `method` is. */
  readonly path: string | undefined;
  constructor(at: HttpRequestRef | string, detail: string, options?: ErrorOptions) {
    super(`${typeof at === 'string' ? at : `${at.method} ${at.path}`}: ${detail}`, options);
    this.method = typeof at === 'string' ? undefined : at.method;
    this.path = typeof at === 'string' ? undefined : at.path;
  }
}

/** `HTTP 404 — detail`: a status other than the one the call expects, with what the server said. */
export function statusDetail(status: number, detail: string): string {
  return `HTTP ${status}${detail ? ` — ${detail}` : ''}`;
}

/** `ECONNRESET socket hang up`: why a request got no complete response. */
export function networkDetail(code: string | undefined, cause: unknown): string {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return `${code ? `${code} ` : ''}${reason}`;
}

/** The first three problems (field paths and what is wrong), and how many more there are. */
export function problemsDetail(problems: string[]): string {
  const shown = problems.slice(0, 3).join('; ');
  return problems.length > 3 ? `${shown} (and ${problems.length - 3} more)` : shown;
}
