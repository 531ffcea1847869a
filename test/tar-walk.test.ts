/**
 * The data offsets the tar walker reports: the importer reads blobs again from the bundle at
 * these offsets, so each must point at exactly the member's bytes, pax and long-name headers
 * in between included.
 */
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { walkTar } from '../shared/bundle/tar-walk.ts';

async function tarOf(members: { name: string; content: Buffer; pax?: Record<string, string> }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const { name, content, pax } of members) {
    await new Promise<void>((resolve, reject) => pack.entry({ name, size: content.length, ...(pax ? { pax } : {}) }, content, (error) => (error ? reject(error) : resolve())));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('walkTar offsets', () => {
  it('hands each member the offset of its own bytes, after pax headers and long names too', async () => {
    // Prepare: plain members, one behind a two-block pax header, one with a name past 100 characters
    const members = [
      { name: 'oci-layout', content: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
      { name: 'a/with-pax', content: Buffer.alloc(700, 7), pax: { comment: 'x'.repeat(600) } },
      { name: `long/${'n'.repeat(150)}`, content: Buffer.from('long-named') },
      { name: 'empty', content: Buffer.alloc(0) },
      { name: 'last', content: Buffer.alloc(1025, 9) },
    ];
    const bytes = await tarOf(members);
    const seen: { name: string; size: number; offset: number }[] = [];

    // Act
    await walkTar(Readable.from([bytes]), 'offsets.tar', async (name, size, entry, offset) => {
      seen.push({ name, size, offset });
      for await (const _ of entry);
    });

    // Assess
    expect(seen.map((s) => s.name)).toEqual(members.map((m) => m.name));
    for (const [i, { size, offset }] of seen.entries()) {
      expect(bytes.subarray(offset, offset + size).equals(members[i]!.content), members[i]!.name).toBe(true);
    }
  });
});
