/**
 * Nexus webhooks as they arrive: the signature over the exact bytes, and body schema errors
 * that name the field. What an event turns into is test/webhook-tasks.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseWebhook, verifyWebhookSignature, WebhookPayloadError } from '../shared/adapters/nexus/webhook.ts';

// The two deliveries from NEXUS.md, byte for byte, with the signatures Nexus sent (secret s3cret).
const COMPONENT_DELIVERY =
  '{"timestamp":"2025-01-15T10:20:30.123+00:00","nodeId":"52905B51-085CCABB-CEBBEAAD-16795588-FC927D93","initiator":"admin/10.0.0.5","repositoryName":"maven-releases","action":"CREATED","component":{"id":"fa8cfc42","componentId":"bWF2ZW4tcmVsZWFzZXM6ZmE4Y2ZjNDI","format":"maven2","name":"widget","group":"org.example","version":"1.0.0"}}';
const COMPONENT_SIGNATURE = 'cda7c92d0df34fd634295c4321da1e05571469ae';
const ASSET_DELIVERY =
  '{"timestamp":"2025-01-15T10:20:30.456+00:00","nodeId":"52905B51-085CCABB-CEBBEAAD-16795588-FC927D93","initiator":"admin/10.0.0.5","repositoryName":"helm-hosted","action":"CREATED","asset":{"id":"459bf48","assetId":"aGVsbS1ob3N0ZWQ6NDU5YmY0OA","format":"helm","name":"/mychart-1.2.3.tgz"}}';
const ASSET_SIGNATURE = '362d9e9dcf5e45688023d220196606ee4de42b42';

const headers = { 'X-Nexus-Webhook-ID': 'rm:repository:component', 'X-Nexus-Webhook-Delivery': '0b5e1c1e-8f7a-4c59-9d43-2f1f3f1d9a10' };

function body(overrides: Record<string, unknown>, drop: string[] = []): Buffer {
  const value: Record<string, unknown> = { ...JSON.parse(COMPONENT_DELIVERY), ...overrides };
  for (const path of drop) {
    const [head, tail] = path.split('.') as [string, string | undefined];
    if (tail === undefined) delete value[head];
    else delete (value[head] as Record<string, unknown>)[tail];
  }
  return Buffer.from(JSON.stringify(value));
}

function thrown(fn: () => unknown): WebhookPayloadError {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookPayloadError) return error;
    throw error;
  }
  throw new Error('expected a WebhookPayloadError');
}

describe('verifyWebhookSignature', () => {
  it('accepts both NEXUS.md sample deliveries with secret s3cret', () => {
    // Prepare
    const component = Buffer.from(COMPONENT_DELIVERY, 'utf8');
    const asset = Buffer.from(ASSET_DELIVERY, 'utf8');

    // Act
    const results = [verifyWebhookSignature(component, COMPONENT_SIGNATURE, 's3cret'), verifyWebhookSignature(asset, ASSET_SIGNATURE, 's3cret')];

    // Assess
    expect(results).toEqual([true, true]);
  });

  it('refuses one flipped byte, a wrong secret, a missing or malformed header', () => {
    // Prepare
    const flipped = Buffer.from(COMPONENT_DELIVERY, 'utf8');
    flipped[100] = (flipped[100] as number) ^ 0x01;
    const original = Buffer.from(COMPONENT_DELIVERY, 'utf8');

    // Act
    const results = {
      flipped: verifyWebhookSignature(flipped, COMPONENT_SIGNATURE, 's3cret'),
      wrongSecret: verifyWebhookSignature(original, COMPONENT_SIGNATURE, 's3cret2'),
      missing: verifyWebhookSignature(original, undefined, 's3cret'),
      empty: verifyWebhookSignature(original, '', 's3cret'),
      short: verifyWebhookSignature(original, COMPONENT_SIGNATURE.slice(0, 39), 's3cret'),
      notHex: verifyWebhookSignature(original, `${COMPONENT_SIGNATURE.slice(0, 39)}z`, 's3cret'),
      otherBody: verifyWebhookSignature(original, ASSET_SIGNATURE, 's3cret'),
    };

    // Assess
    expect(results).toEqual({ flipped: false, wrongSecret: false, missing: false, empty: false, short: false, notHex: false, otherBody: false });
  });
});

describe('parseWebhook', () => {
  it('parses both sample deliveries and reads headers case-insensitively', () => {
    // Prepare
    const lowerCase = { 'x-nexus-webhook-id': 'rm:repository:asset', 'x-nexus-webhook-delivery': 'd-1' };

    // Act
    const component = parseWebhook(Buffer.from(COMPONENT_DELIVERY), headers);
    const asset = parseWebhook(Buffer.from(ASSET_DELIVERY), lowerCase);

    // Assess
    expect(component.deliveryId).toBe(headers['X-Nexus-Webhook-Delivery']);
    expect(component.webhookId).toBe('rm:repository:component');
    expect(component.event.component).toEqual({
      id: 'fa8cfc42',
      componentId: 'bWF2ZW4tcmVsZWFzZXM6ZmE4Y2ZjNDI',
      format: 'maven2',
      name: 'widget',
      group: 'org.example',
      version: '1.0.0',
    });
    expect(asset.deliveryId).toBe('d-1');
    expect(asset.webhookId).toBe('rm:repository:asset');
    expect(asset.event.asset?.name).toBe('/mychart-1.2.3.tgz');
  });

  it('names the field of each schema error', () => {
    // Prepare
    const component = JSON.parse(COMPONENT_DELIVERY).component as Record<string, unknown>;

    // Act
    const errors = {
      componentId: thrown(() => parseWebhook(body({}, ['component.componentId']), headers)).message,
      action: thrown(() => parseWebhook(body({ action: 'MOVED' }), headers)).message,
      repository: thrown(() => parseWebhook(body({}, ['repositoryName']), headers)).message,
      name: thrown(() => parseWebhook(body({ component: { ...component, name: 42 } }), headers)).message,
      neither: thrown(() => parseWebhook(body({}, ['component']), headers)).message,
      notJson: thrown(() => parseWebhook(Buffer.from('{"timestamp":'), headers)).message,
      array: thrown(() => parseWebhook(Buffer.from('[]'), headers)).message,
    };

    // Assess
    expect(errors.componentId).toBe('component.componentId: required');
    expect(errors.action).toMatch(/^action: /);
    expect(errors.action).toContain('CREATED');
    expect(errors.repository).toBe('repositoryName: required');
    expect(errors.name).toMatch(/^component\.name: expected string/);
    expect(errors.neither).toBe('component: required (or asset)');
    expect(errors.notJson).toBe('(body): not JSON');
    expect(errors.array).toMatch(/^\(body\): expected object/);
  });

  it('falls back to the body digest as delivery id when the header is missing', () => {
    // Act
    const a = parseWebhook(Buffer.from(COMPONENT_DELIVERY), {});
    const b = parseWebhook(Buffer.from(ASSET_DELIVERY), undefined);

    // Assess
    expect(a.deliveryId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b.deliveryId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(a.deliveryId).not.toBe(b.deliveryId);
  });

  it('accepts a PURGED event with an id list and no single object', () => {
    // Act
    const purged = parseWebhook(body({ action: 'PURGED', components: ['a', 'b'] }, ['component']), headers);

    // Assess
    expect(purged.event.components).toEqual(['a', 'b']);
  });
});
