/** Errors of the maven2 format: a file Ferry cannot place in Maven layout, a pom Nexus would place elsewhere, metadata it cannot read. */
import { ExportError } from '../../export/errors.ts';
import { ImportError } from '../../import/errors.ts';

/** A listed asset of a maven2 repository whose path spells no Maven coordinates (and whose listing gave none). */
export class MavenPathError extends ExportError {
  override readonly name = 'MavenPathError';
  constructor(repository: string, path: string) {
    super(`${repository}${path}: not a file in Maven layout (/<groupId as dirs>/<artifactId>/<baseVersion>/<artifactId>-<version>[-<classifier>].<extension>) and the listing gave no maven2 extension`);
  }
}

/**
 * A component whose pom declares other coordinates than its path: Nexus's upload takes the
 * coordinates from the pom, so it would land somewhere else than on the source.
 */
export class PomCoordinatesError extends ImportError {
  override readonly name = 'PomCoordinatesError';
  constructor(label: string, expected: string, declared: string | undefined) {
    super(
      `${label}: the pom ${declared === undefined ? 'declares no usable groupId:artifactId:version (missing, or a ${property})' : `declares ${declared}`}, ` +
        `not ${expected}; Nexus's component upload takes the coordinates from the pom, so it would store the component elsewhere`,
    );
  }
}

/** A `maven-metadata.xml` on the target that is not XML Ferry can merge into. */
export class MavenMetadataError extends ImportError {
  override readonly name = 'MavenMetadataError';
  constructor(where: string, options: { cause: unknown }) {
    super(`${where}: not readable as maven-metadata.xml: ${(options.cause as Error)?.message ?? String(options.cause)}`, options);
  }
}
