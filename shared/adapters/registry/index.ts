export { RegistryClient, IMAGE_NAME, IMAGE_TAG, MAX_MANIFEST_BYTES, type RegistryClientOptions } from './client.ts';
export { CATALOG_SCOPE, parseChallenges, pullScope, pushScope, type Challenge } from './auth.ts';
export {
  BlobDigestError,
  ImageManifestError,
  RegistryAuthError,
  RegistryError,
  RegistryHttpError,
  RegistryNetworkError,
  type RegistryErrorEntry,
} from './errors.ts';
export {
  DOCKER_CONFIG,
  DOCKER_FOREIGN_LAYER_GZIP,
  DOCKER_LAYER_GZIP,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  MANIFEST_MEDIA_TYPES,
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_LAYER,
  OCI_LAYER_GZIP,
  OCI_LAYER_ZSTD,
  OCI_MANIFEST,
  isImageManifest,
  isIndex,
  parseImageIndex,
  parseImageManifest,
  platformOf,
  type ImageIndex,
  type ImageManifest,
  type OciDescriptor,
  type Platform,
} from '../../oci/media-types.ts';
export { classifyRegistry } from './transport.ts';
