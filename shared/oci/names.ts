/** The distribution spec's repository-name and tag grammars, shared by the registry client, the bundle manifest and the scan. */
export const IMAGE_NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
export const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** Tag grammar without anchors, to embed in other patterns. */
export const IMAGE_TAG_SOURCE = IMAGE_TAG.source.slice(1, -1);
