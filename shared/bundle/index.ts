/** The bundle format: manifest, writer and streaming verifier. See docs/bundle-format.md. */
export * from './errors.ts';
export * from './layout.ts';
export * from './manifest.ts';
export * from './reader.ts';
export * from './writer.ts';
export * from './parts.ts';
