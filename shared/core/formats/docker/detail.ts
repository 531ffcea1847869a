import type { Digest } from '../../../digest.ts';

/** What an image entry carries besides its tagged manifest (the staged entry's `detail`; see the bundle format). */
export interface ImageDetail {
  name: string;
  tag: string;
  targetName: string;
  mediaType: string;
  manifests: { mediaType: string; digest: Digest; size: number }[];
  blobs: { digest: Digest; size: number }[];
  referrers: { mediaType: string; digest: Digest; size: number; tag?: string | undefined }[];
}
