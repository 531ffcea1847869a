/**
 * undici's EnvHttpProxyAgent without undici's index. The index loads every part of undici
 * (fetch, WebSocket, EventSource, cache stores, mock agents: some 700 KB minified) and a
 * bundle cannot leave any of it out, CommonJS as it is; the HTTP clients need the agent and
 * the request API only. undici has no `exports` map, so these files are importable, and it
 * is pinned exactly: a release that moves them fails the build, not a request.
 */
import type { EnvHttpProxyAgent as EnvHttpProxyAgentClass } from 'undici';
import api from 'undici/lib/api/index.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import EnvHttpProxyAgentImpl from 'undici/lib/dispatcher/env-http-proxy-agent.js';

// What undici's index does besides its exports: `request()` and its siblings on every dispatcher.
Object.assign((Dispatcher as { prototype: object }).prototype, api);

export const EnvHttpProxyAgent = EnvHttpProxyAgentImpl as typeof EnvHttpProxyAgentClass;
