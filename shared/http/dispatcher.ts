/**
 * The one undici dispatcher shape both HTTP clients (Nexus, registries) use: a pool per
 * origin that honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY (undici's EnvHttpProxyAgent; the
 * proxy URLs are read when it is made, NO_PROXY on each request), and an optional extra CA
 * for servers behind a private PKI, trusted besides the default roots — directly and
 * inside a proxy tunnel. Without a CA file Node's default store applies, NODE_EXTRA_CA_CERTS
 * included: that is the way to trust a private CA in the Lambdas.
 */
import { readFileSync } from 'node:fs';
import { getCACertificates } from 'node:tls';
import type { Dispatcher } from 'undici';
import { EnvHttpProxyAgent } from './undici.ts';

export interface DispatcherOptions {
  /** PEM file of extra CA certificates. */
  caFile?: string | undefined;
  connections: number;
  /** Headers and body inactivity timeout. */
  timeoutMs: number;
}

/** The CA file's PEM text; the error names the file and what is wrong with it. */
function readCa(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`caFile ${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { cause: error });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`caFile ${file}: no PEM certificate ("-----BEGIN CERTIFICATE-----") in it`);
  return pem;
}

export function makeDispatcher(options: DispatcherOptions): Dispatcher {
  // 'default': the bundled roots plus NODE_EXTRA_CA_CERTS (and --use-system-ca), which a plain
  // `ca` option would otherwise replace.
  const tls = options.caFile === undefined ? undefined : { ca: [...getCACertificates('default'), readCa(options.caFile)] };
  return new EnvHttpProxyAgent({
    connections: options.connections,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    ...(tls === undefined ? {} : { connect: tls, requestTls: tls }),
  });
}
