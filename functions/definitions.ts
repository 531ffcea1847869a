/**
 * The sync definitions API behind an IAM-authenticated Lambda Function URL (authType
 * AWS_IAM: every request is SigV4-signed, so the caller's ARN in the request context is who
 * made a change). CRUD over the carried repositories in the state table:
 *
 *   GET    /repositories[?removed=true]     the definitions (removed ones too when asked)
 *   GET    /repositories/{name}             one, with its version as ETag
 *   PUT    /repositories/{name}             create or replace (If-Match: "<version>", If-None-Match: *)
 *   DELETE /repositories/{name}             remove: no new tasks; what was staged is sealed
 *   GET    /history, /repositories/{name}/history   the audit trail: who changed what, when
 *
 * Validation, concurrency and the audit trail are the store's (shared/config/definitions.ts);
 * this handler maps HTTP to it and its errors to statuses.
 */
import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { registrySecretProblem, type DefinitionRecord, type DefinitionStore } from '../shared/config/definitions.ts';
import { DefinitionNotFoundError, DefinitionsNotSeededError, DefinitionVersionError, InvalidDefinitionError } from '../shared/config/errors.ts';
import { REPOSITORY_NAME } from '../shared/config/names.ts';
import { DynamoDefinitionStore } from '../shared/adapters/aws/dynamo-definitions.ts';
import { definitionsEnvSchema, loadEnv } from './env.ts';
import { documentClient, errorFields, powertools } from './wiring.ts';

const env = loadEnv(definitionsEnvSchema);
const { logger } = powertools();
// Not through export-wiring.ts: this function talks to nothing but the state table.
const store: DefinitionStore = new DynamoDefinitionStore({ client: documentClient(), table: env.FERRY_TABLE, sourceId: env.FERRY_SOURCE_ID });

/** A definition is a few hundred bytes; anything near this is not one. */
export const MAX_BODY_BYTES = 64 * 1024;

type Reply = APIGatewayProxyStructuredResultV2;

function reply(statusCode: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** The version as an ETag, and back: `"3"` (a weak `W/"3"` is read the same). */
const etag = (record: DefinitionRecord) => ({ etag: `"${record.version}"` });
function versionOf(header: string | undefined, name: string): number | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(header);
  if (!match) throw new BadRequest(`${name}: expected the ETag of a version, such as "3"`);
  return Number(match[1]);
}

/** A request this API refuses before the store sees it: 400, or `status`. */
class BadRequest extends Error {
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.status = status;
  }
}

export async function handler(event: APIGatewayProxyEventV2WithIAMAuthorizer, context: Context): Promise<Reply> {
  logger.resetKeys();
  logger.addContext(context);
  const method = event.requestContext.http.method;
  const path = event.rawPath.replace(/\/+$/, '') || '/';
  const caller = event.requestContext.authorizer?.iam?.userArn;
  if (!caller) {
    logger.warn('definitions request without an IAM caller', { method, path });
    return reply(403, { message: 'no IAM caller in the request: the Function URL must use AWS_IAM authentication' });
  }
  logger.appendKeys({ caller, method, path });
  try {
    return await route(event, method, path, caller);
  } catch (error) {
    if (error instanceof BadRequest) return reply(error.status, { message: error.message });
    if (error instanceof InvalidDefinitionError) return reply(400, { message: 'invalid repository definition', problems: error.problems });
    if (error instanceof DefinitionNotFoundError) return reply(404, { message: error.message });
    if (error instanceof DefinitionVersionError) return reply(412, { message: error.message, currentVersion: error.current ?? null });
    logger.error('definitions request failed', errorFields(error));
    if (error instanceof DefinitionsNotSeededError) return reply(503, { message: error.message });
    return reply(500, { message: 'the definitions could not be read or written' });
  }
}

async function route(event: APIGatewayProxyEventV2WithIAMAuthorizer, method: string, path: string, caller: string): Promise<Reply> {
  const [collection, name, sub, ...rest] = path.split('/').slice(1).map(decodePart);
  if (collection === 'history' && name === undefined) return method === 'GET' ? reply(200, { changes: await store.history() }) : notAllowed('GET');
  if (collection !== 'repositories' || rest.length > 0 || (sub !== undefined && sub !== 'history')) return reply(404, { message: `no such resource: ${path}` });
  if (name === undefined) {
    if (method !== 'GET') return notAllowed('GET');
    const definitions = await store.read();
    const removed = event.queryStringParameters?.removed === 'true';
    return reply(200, { ...definitions, repositories: definitions.repositories.filter((r) => removed || r.removed === undefined) });
  }
  if (!REPOSITORY_NAME.test(name)) throw new BadRequest(`${name}: not a Nexus repository name`);
  if (sub === 'history') return method === 'GET' ? reply(200, { changes: await store.history(name) }) : notAllowed('GET');
  const change = { by: caller, via: 'api' as const, ifVersion: versionOf(event.headers['if-match'], 'If-Match') };
  switch (method) {
    case 'GET': {
      const record = (await store.read()).repositories.find((r) => r.name === name && r.removed === undefined);
      if (record === undefined) throw new DefinitionNotFoundError(name);
      return reply(200, record, etag(record));
    }
    case 'PUT': {
      const ifNoneMatch = event.headers['if-none-match']?.trim();
      if (ifNoneMatch !== undefined && ifNoneMatch !== '*') throw new BadRequest('If-None-Match: only * (create, never replace) is understood');
      const body = bodyOf(event);
      checkRegistrySecret(body);
      const outcome = await store.put(body, { ...change, name, ifAbsent: ifNoneMatch === '*' });
      if (outcome.changed) logger.info(`${outcome.created ? 'defined' : 'changed'} ${name}`, { repository: name, version: outcome.record.version });
      return reply(outcome.created ? 201 : 200, outcome.record, etag(outcome.record));
    }
    case 'DELETE': {
      const record = await store.remove(name, change);
      logger.info(`removed ${name}`, { repository: name, version: record.version });
      return reply(200, record, etag(record));
    }
    default:
      return notAllowed('GET, PUT, DELETE');
  }
}

/** A docker definition's `registry.secretArn` must be a secret the functions can read (see registrySecretProblem). */
function checkRegistrySecret(body: unknown): void {
  const arns = (env.FERRY_REGISTRY_SECRET_ARNS ?? '').split(',').filter((a) => a !== '');
  const problem = registrySecretProblem((body as { registry?: { secretArn?: unknown } } | null)?.registry?.secretArn, { prefix: env.FERRY_REGISTRY_SECRET_ARN_PREFIX, arns });
  if (problem !== undefined) throw new BadRequest(problem);
}

function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new BadRequest(`path: ${JSON.stringify(part)} is not URL-encoded text`);
  }
}

const notAllowed = (allow: string) => reply(405, { message: `method not allowed here; use ${allow}` }, { allow });

function bodyOf(event: APIGatewayProxyEventV2WithIAMAuthorizer): unknown {
  const raw = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  if (raw.length > MAX_BODY_BYTES) throw new BadRequest(`body: ${raw.length} bytes, more than the ${MAX_BODY_BYTES} a definition may have`, 413);
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BadRequest('body: expected a repository definition as JSON');
  }
}
