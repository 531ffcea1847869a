/**
 * vitest globalSetup: builds the `ferry` command (dist/) once per run, so every test that
 * spawns the CLI runs what `npm ci` builds and ships, never a stale build.
 */
import { buildCli } from '../../scripts/build-cli.ts';

export default async function setup(): Promise<void> {
  await buildCli();
}
