/** Registry clients for the docker repositories a config names, built once per run. */
import path from 'node:path';
import { resolveCredentials, type CredentialsConfig } from '../shared/config/credentials.ts';
import type { Log } from '../shared/core/log.ts';
import { RegistryClient } from '../shared/adapters/registry/index.ts';

export interface RegistryEndpoint {
  url: string;
  credentials?: CredentialsConfig | undefined;
  caFile?: string | undefined;
  uploadChunkSize?: number | undefined;
}

export class RegistrySet {
  readonly #clients = new Map<string, RegistryClient>();

  /** Builds one client per repository; credentials are read now so that a bad one stops the start. */
  static async open(endpoints: Record<string, RegistryEndpoint>, configDir: string, log: Log, fallback?: CredentialsConfig): Promise<RegistrySet> {
    const set = new RegistrySet();
    for (const [repository, endpoint] of Object.entries(endpoints)) {
      const credentials = await resolveCredentials(endpoint.credentials ?? fallback, process.env, (p) => path.resolve(configDir, p));
      set.#clients.set(
        repository,
        new RegistryClient({
          baseUrl: endpoint.url,
          ...(credentials ?? {}),
          ...(endpoint.caFile ? { caFile: endpoint.caFile } : {}),
          ...(endpoint.uploadChunkSize ? { uploadChunkBytes: endpoint.uploadChunkSize } : {}),
          onRetry: (r) => log.warn(`retrying ${r.path} in ${r.delayMs} ms (attempt ${r.attempt}): ${r.reason}`),
        }),
      );
    }
    return set;
  }

  get size(): number {
    return this.#clients.size;
  }

  get(repository: string): RegistryClient | undefined {
    return this.#clients.get(repository);
  }

  /** For the core: a repository without a registry is a configuration error worth naming. */
  require(repository: string): RegistryClient {
    const client = this.#clients.get(repository);
    if (client === undefined) throw new Error(`no registry is configured for docker repository ${repository}`);
    return client;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#clients.values()].map((c) => c.close()));
  }
}
