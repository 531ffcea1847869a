/**
 * Preloaded (`node --import`) into a measured `ferry` process: at exit it writes the
 * process's own peak resident set size, in bytes, to `$BENCH_MAXRSS_FILE`. The kernel's
 * high-water mark read at the very end misses nothing a /proc sampler could miss.
 *
 * Plain JavaScript on purpose: a TypeScript preload would make Node load its type stripper
 * into the measured process, some 30 MB that the built `ferry` never loads.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_MAXRSS_FILE;
if (file !== undefined && file !== '') {
  process.on('exit', () => {
    try {
      writeFileSync(file, String(process.resourceUsage().maxRSS * 1024));
    } catch {
      // A benchmark aid: never change the measured process's outcome.
    }
  });
}
