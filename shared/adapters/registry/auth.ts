/**
 * Challenge-driven registry authentication. Nothing is sent before the registry asks:
 * the first 401 tells which scheme it wants. `Basic` → the configured credentials on
 * every later request. `Bearer realm,service,scope` (the Docker token flow, also Nexus's
 * Docker Bearer Token Realm) → a token from the realm, cached per scope until shortly
 * before `expires_in`, then fetched up front (no 401 round trip) for later scopes.
 */
import type { Dispatcher } from 'undici';
import { RegistryAuthError, RegistryNetworkError } from './errors.ts';
import { errorCode } from '../../http/retry.ts';

/** `repository:<name>:pull`, etc. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}
export function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`;
}
export const CATALOG_SCOPE = 'registry:catalog:*';

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses `WWW-Authenticate` (one header or several, each possibly holding several
 * challenges): `Bearer realm="…",service="…",scope="…", Basic realm="…"`.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const challenges: Challenge[] = [];
  for (const value of values) {
    const pattern = /\s*([A-Za-z][\w!#$%&'*+.^`|~-]*)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*)))?\s*,?/gy;
    let current: Challenge | undefined;
    let match: RegExpExecArray | null;
    while (pattern.lastIndex < value.length && (match = pattern.exec(value)) !== null) {
      if (match[0] === '') break;
      const [, token = '', quoted, bare] = match;
      if (quoted === undefined && bare === undefined) {
        current = { scheme: token.toLowerCase(), params: {} };
        challenges.push(current);
      } else if (current !== undefined) {
        current.params[token.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : (bare ?? '');
      }
    }
  }
  return challenges;
}

interface CachedToken {
  token: string;
  expiresAt: number;
  /** resource (`repository:foo`) → actions granted (as requested). */
  granted: Map<string, Set<string>>;
}

function parseScopes(scopes: string[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const scope of scopes) {
    const cut = scope.lastIndexOf(':');
    if (cut <= 0) continue;
    const resource = scope.slice(0, cut);
    const actions = out.get(resource) ?? new Set<string>();
    for (const action of scope.slice(cut + 1).split(',')) if (action !== '') actions.add(action);
    out.set(resource, actions);
  }
  return out;
}

function covers(granted: Map<string, Set<string>>, wanted: Map<string, Set<string>>): boolean {
  for (const [resource, actions] of wanted) {
    const have = granted.get(resource);
    if (have === undefined) return false;
    if (have.has('*')) continue;
    for (const action of actions) if (!have.has(action)) return false;
  }
  return true;
}

function scopeKey(scopes: Map<string, Set<string>>): string[] {
  return [...scopes].map(([resource, actions]) => `${resource}:${[...actions].sort().join(',')}`).sort();
}

export interface RegistryAuthOptions {
  username?: string | undefined;
  password?: string | undefined;
  dispatcher: Dispatcher;
  /** Called with every token obtained, so error messages can redact it. */
  onSecret: (secret: string) => void;
  now?: () => number;
}

export class RegistryAuth {
  readonly #basic: string | undefined;
  readonly #dispatcher: Dispatcher;
  readonly #onSecret: (secret: string) => void;
  readonly #now: () => number;
  #scheme: 'basic' | 'bearer' | undefined;
  #realm: URL | undefined;
  #service: string | undefined;
  #tokens: CachedToken[] = [];
  readonly #inflight = new Map<string, Promise<CachedToken>>();
  /** Token endpoint hits, for tests and diagnostics. */
  tokenRequests = 0;

  constructor(options: RegistryAuthOptions) {
    this.#dispatcher = options.dispatcher;
    this.#onSecret = options.onSecret;
    this.#now = options.now ?? Date.now;
    if (options.username !== undefined && options.username !== '') {
      const encoded = Buffer.from(`${options.username}:${options.password ?? ''}`, 'utf8').toString('base64');
      this.#basic = `Basic ${encoded}`;
      options.onSecret(encoded);
      if (options.password !== undefined && options.password.length >= 4) options.onSecret(options.password);
    }
  }

  /**
   * The Authorization header for a request needing `scopes`, or undefined while the
   * registry has not asked for any. May fetch a token (deduplicated across callers).
   */
  async authorization(scopes: string[], method: string, path: string): Promise<string | undefined> {
    if (this.#scheme === 'basic') return this.#basic;
    if (this.#scheme === 'bearer') return `Bearer ${(await this.#token(scopes, method, path)).token}`;
    return undefined;
  }

  /**
   * Learns from a 401. Returns once a retry has a chance to succeed (credentials or a
   * fresh token are ready); throws RegistryAuthError when it cannot.
   */
  async unauthorized(
    header: string | string[] | undefined,
    sent: string | undefined,
    scopes: string[],
    method: string,
    path: string,
  ): Promise<void> {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer !== undefined) {
      const realm = bearer.params.realm;
      let url: URL;
      try {
        url = new URL(realm ?? '');
      } catch {
        throw new RegistryAuthError(method, path, 'Bearer challenge without a usable realm');
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new RegistryAuthError(method, path, `Bearer realm has unsupported scheme ${url.protocol}`);
      }
      this.#scheme = 'bearer';
      this.#realm = url;
      this.#service = bearer.params.service;
      // A token that was sent and refused is of no further use.
      this.forget(sent);
      const wanted = [...scopes, ...(bearer.params.scope ?? '').split(' ').filter((s) => s !== '')];
      await this.#token(wanted, method, path);
      return;
    }
    if (basic !== undefined) {
      if (this.#basic === undefined) throw new RegistryAuthError(method, path, 'the registry requires credentials and none are configured');
      if (sent === this.#basic) throw new RegistryAuthError(method, path, 'the registry refused the configured credentials');
      this.#scheme = 'basic';
      return;
    }
    const schemes = challenges.map((c) => c.scheme).join(', ');
    throw new RegistryAuthError(method, path, schemes ? `unsupported challenge (${schemes})` : 'HTTP 401 without a WWW-Authenticate challenge');
  }

  /** A refused Authorization is forgotten (a token is dropped; basic stays, it can't change). */
  forget(sent: string | undefined): void {
    if (sent?.startsWith('Bearer ')) {
      const token = sent.slice(7);
      this.#tokens = this.#tokens.filter((t) => t.token !== token);
    }
  }

  async #token(scopes: string[], method: string, path: string): Promise<CachedToken> {
    const wanted = parseScopes(scopes);
    const now = this.#now();
    this.#tokens = this.#tokens.filter((t) => t.expiresAt > now);
    const cached = this.#tokens.find((t) => covers(t.granted, wanted));
    if (cached !== undefined) return cached;
    const key = scopeKey(wanted).join(' ');
    let pending = this.#inflight.get(key);
    if (pending === undefined) {
      pending = this.#fetchToken(wanted, method, path).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  async #fetchToken(wanted: Map<string, Set<string>>, method: string, path: string): Promise<CachedToken> {
    const realm = this.#realm;
    if (realm === undefined) throw new RegistryAuthError(method, path, 'no Bearer realm known');
    const url = new URL(realm);
    if (this.#service !== undefined) url.searchParams.set('service', this.#service);
    for (const scope of scopeKey(wanted)) url.searchParams.append('scope', scope);
    const where = `token endpoint ${url.host}${url.pathname}`;
    const headers: Record<string, string> = { 'user-agent': 'ferry', accept: 'application/json' };
    if (this.#basic !== undefined) headers.authorization = this.#basic;
    this.tokenRequests++;
    let response: Dispatcher.ResponseData;
    try {
      response = await this.#dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers,
      });
    } catch (error) {
      throw new RegistryNetworkError('GET', where, errorCode(error), error);
    }
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      throw new RegistryNetworkError('GET', where, errorCode(error) ?? 'UND_ERR_SOCKET', error);
    }
    if (response.statusCode === 401 || response.statusCode === 403) {
      const reason = this.#basic === undefined ? 'no credentials are configured' : 'it refused the configured credentials';
      throw new RegistryAuthError(method, path, `${where} answered HTTP ${response.statusCode}: ${reason}`);
    }
    if (response.statusCode !== 200) {
      throw new RegistryAuthError(method, path, `${where} answered HTTP ${response.statusCode}`);
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch (error) {
      throw new RegistryAuthError(method, path, `${where} did not answer JSON`, { cause: error });
    }
    const token = typeof body.token === 'string' && body.token !== '' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') throw new RegistryAuthError(method, path, `${where} answered without a token`);
    this.#onSecret(token);
    const lifetimeMs = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60) * 1000;
    const marginMs = Math.min(30_000, lifetimeMs / 4);
    const cached: CachedToken = { token, expiresAt: this.#now() + lifetimeMs - marginMs, granted: wanted };
    this.#tokens.push(cached);
    return cached;
  }
}
