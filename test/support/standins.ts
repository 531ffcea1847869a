/** Nexus stand-ins for one test file, each closed after its test. */
import { afterEach } from 'vitest';
import { startNexusStandin, type NexusStandin, type StandinOptions } from '../nexus-standin/index.ts';

/** `const start = standinsPerTest({ repositories: […] })`; `await start()` in a test. */
export function standinsPerTest(defaults: StandinOptions): (options?: Partial<StandinOptions>) => Promise<NexusStandin> {
  const running: NexusStandin[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((standin) => standin.close()));
  });
  return async (options = {}) => {
    const standin = await startNexusStandin({ ...defaults, ...options });
    running.push(standin);
    return standin;
  };
}
