/**
 * The root of Ferry's error families. Every error Ferry raises on purpose extends
 * {@link FerryError}, through one base per module (BundleError, NexusError, RegistryError,
 * StateError, ExportError, ImportError, ReceiptError, ConfigError, …), so a caller catches
 * all of Ferry's errors, or one module's, with a single `instanceof`. Each carries `cause`
 * and names what failed and where — never a credential.
 */
export class FerryError extends Error {
  override readonly name: string = 'FerryError';
}
