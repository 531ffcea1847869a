/**
 * Public shapes of the Nexus 3 stand-in. Kept apart from the implementation so tests and
 * the demo can import types without pulling in the server.
 */

export interface StandinRepository {
  name: string;
  format: string;
  type: 'hosted' | 'proxy' | 'group';
  writePolicy?: 'allow' | 'allow_once' | 'deny';
  memberNames?: string[];
  online?: boolean;
  /** Proxy repositories only: reported as `attributes.proxy.remoteUrl`. */
  remoteUrl?: string;
  /** maven2 only (default RELEASE): a SNAPSHOT repository refuses component uploads. */
  versionPolicy?: 'RELEASE' | 'SNAPSHOT' | 'MIXED';
}

/** A form for {@link NexusStandin.seedUpload}: the components API's fields and files. */
export interface SeedForm {
  fields?: Record<string, string>;
  files: { field: string; filename: string; content: Buffer | string }[];
}

export interface StandinOptions {
  repositories: StandinRepository[];
  /** Default 'sql'; affects ids, tokens, path leading '/', "" vs null version. */
  backend?: 'sql' | 'orient';
  /** Default 10 (OrientDB and SQL before 3.74); 100 mimics 3.74+. */
  pageSize?: number;
  /**
   * A slow Nexus: every components / assets listing page is answered this many ms after its
   * request came in, its own work included (default 0: as soon as it is ready). The
   * benchmark's scale rows measure a scan against it.
   */
  listingLatencyMs?: number;
  /** When given, every /service/rest and /repository request needs basic auth. */
  users?: { username: string; password: string }[];
  /** For lastModified / blobCreated / webhook timestamps; default real time. */
  clock?: () => Date;
  /** Asset content is stored as files here (default: a temporary dir removed on close). */
  dataDir?: string;
  port?: number;
  /** Serve HTTPS with this certificate and key (PEM) instead of HTTP. */
  tls?: { cert: string; key: string };
}

export type StandinFault = { method?: string; url: RegExp; times?: number } & (
  | { kind: 'status'; status: number }
  | { kind: 'retry-after'; status?: number; retryAfter: string }
  | { kind: 'truncate'; afterBytes: number }
  | { kind: 'corrupt' }
  | { kind: 'reset' }
  | { kind: 'delay'; ms: number }
);

export interface StandinWebhook {
  repository: string;
  url: string;
  secret?: string;
  events: ('component' | 'asset')[];
}

export interface RequestLogEntry {
  method: string;
  url: string;
  status: number;
}

export interface NexusStandin {
  /** 'http://127.0.0.1:<port>' */
  readonly url: string;
  close(): Promise<void>;
  /**
   * Seed directly (no HTTP): creates or replaces a raw asset (content replaced => lastModified
   * changes, blobCreated/ids/listing position unchanged). Fires webhooks like an upload would.
   */
  putRawAsset(
    repository: string,
    path: string,
    content: Buffer | string,
    options?: { lastModified?: Date },
  ): { componentId: string; assetId: string };
  /**
   * Seed a docker tag as the components API lists it (name = image, version = tag, one
   * asset: the manifest at /v2/<name>/manifests/<tag>). The images themselves live in a
   * real registry; this is only Nexus's view of them.
   */
  putDockerTag(
    repository: string,
    name: string,
    tag: string,
    manifest: Buffer,
    mediaType: string,
    options?: { lastModified?: Date },
  ): { componentId: string; assetId: string };
  /**
   * Seed through the format's own upload handler, as `POST /v1/components` would (same
   * fields, same validation, same stored paths), but without the hosted/online/write-policy
   * checks: this is also how a proxy's cache is filled. Rejects with Nexus's messages.
   */
  seedUpload(repository: string, form: SeedForm, options?: { lastModified?: Date }): Promise<{ paths: string[] }>;
  /** Seed through the format's PUT handler (a maven client's deploy of a snapshot file). */
  seedPut(repository: string, path: string, content: Buffer | string, options?: { lastModified?: Date }): Promise<{ paths: string[] }>;
  /** Changes a hosted repository's write policy, as an admin does in its settings (Nexus keeps its content). */
  setWritePolicy(repository: string, policy: 'allow' | 'allow_once' | 'deny'): void;
  /** Current content and checksums of an asset, or undefined. path with or without leading '/'. */
  getAsset(
    repository: string,
    path: string,
  ): { content: Buffer; checksum: Record<string, string>; lastModified: string } | undefined;
  /** Normalised with leading '/', creation order. */
  assetPaths(repository: string): string[];
  /** Every HTTP request handled: method, path+query, status (0 when the socket was cut). */
  readonly requests: RequestLogEntry[];
  /** Successful uploads (POST components or PUT) that wrote this repository/path. */
  uploadCount(repository: string, path: string): number;
  injectFault(fault: StandinFault): void;
  clearFaults(): void;
  /** Throws for group repositories (Nexus refuses the capability there) and unknown ones. */
  addWebhook(hook: StandinWebhook): void;
  /** Resolves when all webhook deliveries started so far have finished (success or failure). */
  webhooksIdle(): Promise<void>;
  /** Deliveries that failed (status >= 300, timeout, connection error); never retried. */
  readonly webhookFailures: number;
  /** Deliveries attempted so far. */
  readonly webhookDeliveries: number;
}
