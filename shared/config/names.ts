/**
 * The names Ferry accepts, written once: a source id (a chain of bundles), a Nexus
 * repository name, an image platform. The config files, the Lambda environment, the CDK
 * props and the bundle manifest all use these.
 */
import * as z from 'zod';

/** Names a chain of bundles; part of every bundle file name. */
export const SOURCE_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const sourceIdSchema = z.string().regex(SOURCE_ID, 'must be lowercase letters, digits, . _ - (at most 63)');

/** Nexus repository names: letters, digits, `_ - .`, not starting with `_` or `.`. */
export const REPOSITORY_NAME = /^[A-Za-z0-9-][A-Za-z0-9._-]{0,199}$/;
export const repositoryNameSchema = z.string().regex(REPOSITORY_NAME, 'must be a Nexus repository name (letters, digits, . _ -; not starting with _ or .)');

/** `os/arch[/variant]`, as in an OCI index's platform. */
export const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;
export const platformSchema = z.string().regex(PLATFORM, 'must be os/arch[/variant], e.g. linux/amd64');
