/**
 * Error families: every error Ferry raises on purpose is a FerryError, through one base per
 * module, so a caller catches a family with one `instanceof`; and the one zod issue
 * formatter every parser reports bad input with.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InfraConfigError } from '../infra/errors.ts';
import { UsageError } from '../cli/usage.ts';
import { KmsSignerError, ObjectStoreError, QueueSendError, StateStoreError } from '../shared/adapters/aws/errors.ts';
import { SchemaVersionError } from '../shared/adapters/embedded/errors.ts';
import { NexusChecksumError, NexusError, NexusHttpError, NexusNetworkError, WebhookPayloadError } from '../shared/adapters/nexus/errors.ts';
import { BlobDigestError, ImageManifestError, RegistryAuthError, RegistryError, RegistryHttpError } from '../shared/adapters/registry/errors.ts';
import { OciDocumentError } from '../shared/oci/errors.ts';
import { BundleError, BundleWriteError, ManifestError, UnknownMemberError } from '../shared/bundle/errors.ts';
import { parseManifest } from '../shared/bundle/manifest.ts';
import { ConfigError, CredentialError } from '../shared/config/errors.ts';
import { ExportError } from '../shared/core/export/errors.ts';
import { ImageCopyError } from '../shared/core/formats/docker/copy.ts';
import { ImportError, SequenceError } from '../shared/core/import/errors.ts';
import { BlobNotFoundError, StateError, TaskQueueError } from '../shared/core/ports/errors.ts';
import { ReceiptError } from '../shared/core/receipts/errors.ts';
import { ChecksumMismatchError, ContentMismatchError } from '../shared/digest.ts';
import { FerryError } from '../shared/errors.ts';
import { issueLines } from '../shared/issues.ts';
import { HttpError } from '../shared/http/errors.ts';
import { parseImageManifest } from '../shared/oci/media-types.ts';
import { KeyLoadError, SigningError } from '../shared/signing-errors.ts';

type Base = abstract new (...args: never[]) => Error;

const digest = `sha256:${'a'.repeat(64)}`;
const mismatch = new ChecksumMismatchError('raw/a.bin', 'sha256', 'aa', 'bb');

/** One representative error of each module, and the module's base. */
const families: [string, Error, Base][] = [
  ['bundle (refused)', new UnknownMemberError('b.tar', 'ferry/extra.sh'), BundleError],
  ['bundle (manifest)', new ManifestError('manifest', ['sequence: required']), BundleError],
  ['bundle (writer)', new BundleWriteError('STAGED_BLOB_MISMATCH', 'b-1', digest, 'staged size differs'), BundleError],
  ['nexus', new NexusHttpError({ method: 'GET', path: '/service/rest/v1/assets', status: 404, bodyExcerpt: '', messages: [] }), NexusError],
  ['nexus (content)', new NexusChecksumError('raw', '/a.bin', mismatch), NexusError],
  ['nexus (webhook)', new WebhookPayloadError('repositoryName', 'required'), NexusError],
  ['registry', new RegistryAuthError('GET', '/v2/team/app/manifests/1', 'no credentials'), RegistryError],
  ['registry (content)', new ImageManifestError('team/app:1', ['(root): not JSON']), RegistryError],
  ['state (port)', new BlobNotFoundError(digest, '/staging'), StateError],
  ['state (embedded)', new SchemaVersionError('ferry.db', 'export state', 3, 2), StateError],
  ['state (DynamoDB)', new StateStoreError('ferry-state', 'PutItem', 'pk', { cause: new Error('throttled') }), StateError],
  ['state (S3)', new ObjectStoreError('GetObject', 's3://bucket/key', { cause: new Error('denied') }), StateError],
  ['task queue', new QueueSendError('https://sqs/queue', ['t1'], 'throttled'), TaskQueueError],
  ['signing', new KeyLoadError('/keys/x.pem', 'not a PEM key'), SigningError],
  ['signing (KMS)', new KmsSignerError('alias/ferry', 'wrong key spec'), SigningError],
  ['config', new ConfigError('export.yaml', ['source.url: required']), ConfigError],
  ['config (credentials)', new CredentialError('environment variable NEXUS_PASSWORD (credentials.passwordEnv) is not set'), ConfigError],
  ['usage', new UsageError('download needs --out <dir>'), UsageError],
  ['infra', new InfraConfigError('cdk context', ['sourceId: required']), InfraConfigError],
  ['digest', mismatch, ContentMismatchError],
  ['export', new ImageCopyError('team/app:1: layer missing'), ExportError],
  ['import', new SequenceError('bundle 3 is not next', 2), ImportError],
  ['receipts', new ReceiptError('r.json', 'payload: required'), ReceiptError],
];

describe('error families', () => {
  it.each(families)('%s: a FerryError and of its module base', (_, error, base) => {
    // Assess
    expect(error).toBeInstanceOf(FerryError);
    expect(error).toBeInstanceOf(base);
  });

  it('puts both HTTP clients under HttpError, each in its own family', () => {
    // Prepare
    const nexus = [
      new NexusHttpError({ method: 'GET', path: '/x', status: 503, bodyExcerpt: '', messages: [] }),
      new NexusNetworkError('GET', '/x', 'ECONNRESET', new Error('socket hang up')),
      new NexusChecksumError('raw', '/a.bin', mismatch),
    ];
    const registry = [
      new RegistryHttpError({ method: 'HEAD', path: '/v2/a/blobs/x', status: 404 }),
      new ImageManifestError('a:1', ['(root): not JSON']),
      new BlobDigestError('a', digest, mismatch),
    ];

    // Assess
    for (const error of [...nexus, ...registry]) expect(error).toBeInstanceOf(HttpError);
    for (const error of nexus) expect(error).not.toBeInstanceOf(RegistryError);
    for (const error of registry) expect(error).not.toBeInstanceOf(NexusError);
  });

  it('names the request in HTTP errors, the content in content errors', () => {
    // Act
    const status = new NexusHttpError({
      method: 'GET',
      path: '/service/rest/v1/assets?repository=raw',
      status: 404,
      bodyExcerpt: '',
      messages: [{ id: '*', message: 'Repository not found' }],
    });
    const registry = new RegistryHttpError({ method: 'PUT', path: '/v2/a/manifests/1', status: 400, errors: [{ code: 'MANIFEST_INVALID', message: 'bad' }] });
    const content = new BlobDigestError('team/app', digest, mismatch);

    // Assess
    expect(status.message).toBe('GET /service/rest/v1/assets?repository=raw: HTTP 404 — Repository not found');
    expect([status.method, status.path]).toEqual(['GET', '/service/rest/v1/assets?repository=raw']);
    expect(registry.message).toBe('PUT /v2/a/manifests/1: HTTP 400 — MANIFEST_INVALID: bad');
    expect(content.message).toBe(`team/app@${digest}: content refused: raw/a.bin: sha256 mismatch (expected aa, got bb)`);
    expect([content.method, content.path]).toEqual([undefined, undefined]);
  });

  it('keeps the bundle manifest and the image manifest apart, by name and by family', () => {
    // Act
    const bundle = thrown(() => parseManifest(Buffer.from('{'), 'manifest'));
    const image = thrown(() => parseImageManifest(Buffer.from('{'), 'application/vnd.oci.image.manifest.v1+json', 'team/app:1'));

    // Assess
    expect(bundle).toBeInstanceOf(ManifestError);
    expect(bundle.name).toBe('ManifestError');
    expect(image).toBeInstanceOf(OciDocumentError);
    expect(image.name).toBe('OciDocumentError');
    expect(image).toBeInstanceOf(FerryError);
    expect(image).not.toBeInstanceOf(BundleError);
  });
});

describe('issueLines', () => {
  const schema = z.strictObject({
    source: z.object({ repositories: z.array(z.object({ name: z.string(), format: z.enum(['raw', 'docker']) })) }),
  });

  it('names nested fields with their dot path and reads a missing field as required', () => {
    // Prepare
    const result = schema.safeParse({ source: { repositories: [{ name: 'a', format: 'raw' }, { format: 'raw' }, { name: 3, format: 'raw' }] } });

    // Act
    const lines = issueLines(result.error as z.ZodError);

    // Assess
    expect(lines).toEqual(['source.repositories[1].name: required', 'source.repositories[2].name: expected string, received number']);
  });

  it('names the value itself by `root`, and unknown fields by name', () => {
    // Prepare
    const notObject = schema.safeParse('text');
    const extra = schema.safeParse({ source: { repositories: [] }, sink: 1 });

    // Act
    const lines = [...issueLines(notObject.error as z.ZodError, '(body)'), ...issueLines(extra.error as z.ZodError)];

    // Assess
    expect(lines).toEqual(['(body): expected object, received string', '(root): unknown field(s) "sink"']);
  });
});

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}
