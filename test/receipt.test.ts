/** Receipt files: round trip, signatures, and errors that name the file and the field. */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ReceiptError } from '../shared/core/receipts/errors.ts';
import { decodeReceipt, encodeReceipt, RECEIPT_FORMAT, type Receipt } from '../shared/core/receipts/codec.ts';
import { generateSigningKeyPair, localSigner } from '../shared/signing.ts';

const digest = `sha256:${'a'.repeat(64)}` as const;
const receipt: Receipt = {
  format: RECEIPT_FORMAT,
  sourceId: 'corp-nexus',
  bundle: { name: 'corp-nexus-00000001.tar', digest, sequence: 1 },
  importedAt: '2026-12-02T03:00:00.000Z',
  entries: [{ index: 0, repository: 'raw-a', path: '/x.bin', digest, outcome: 'imported' }],
  summary: { imported: 1, present: 0 },
  blobsHeld: [{ digest, size: 3 }],
};
const keys = generateSigningKeyPair();
const signer = localSigner(createPrivateKey(keys.privateKeyPem));
const trusted = [createPublicKey(keys.publicKeyPem)];

describe('receipt files', () => {
  it('round-trip signed, and decode against the signer\'s public key', async () => {
    // Prepare
    const text = await encodeReceipt(receipt, signer);
    // Act
    const decoded = decodeReceipt(text, 'r.json', trusted);
    // Assess
    expect(decoded).toEqual(receipt);
  });

  const cases: [string, () => Promise<string>, RegExp, boolean?][] = [
    ['not JSON', async () => '{', /^r\.json: not JSON$/],
    ['without a payload', async () => '{"signature":null}', /^r\.json: payload: required$/],
    ['unsigned where a key is trusted', async () => encodeReceipt(receipt, undefined), /^r\.json: the receipt is not signed$/],
    ['signed by another key', async () => encodeReceipt(receipt, localSigner(createPrivateKey(generateSigningKeyPair().privateKeyPem))), /^r\.json: signature refused: signed by unknown key sha256:/],
    [
      'with a changed payload',
      async () => {
        const file = JSON.parse(await encodeReceipt(receipt, signer));
        return JSON.stringify({ ...file, payload: file.payload.replace('"imported":1', '"imported":2') });
      },
      /^r\.json: signature refused: /,
    ],
    ['with a payload that is not JSON', async () => JSON.stringify({ payload: '{', signature: null }), /^r\.json: payload: not JSON text$/, false],
    ['with a bad field', async () => JSON.stringify({ payload: JSON.stringify({ ...receipt, blobsHeld: [{ digest: 'md5:x', size: 1 }] }), signature: null }), /^r\.json: payload\.blobsHeld\[0\]\.digest: /, false],
  ];
  it.each(cases)('are refused %s, naming the file', async (_, make, message, checkSignature = true) => {
    // Prepare
    const text = await make();
    // Act
    const act = () => decodeReceipt(text, 'r.json', checkSignature ? trusted : undefined);
    // Assess
    expect(act).toThrow(ReceiptError);
    expect(act).toThrow(message);
  });
});
