/**
 * Preloaded (`node --import`) into a measured `ferry` process: at exit it writes the
 * process's own peak resident set size, in bytes, to `$BENCH_MAXRSS_FILE`. The kernel's
 * high-water mark read at the very end misses nothing a /proc sampler could miss.
 *
 * VmHWM from /proc/self/status, not `process.resourceUsage().maxRSS`: getrusage's maxrss
 * survives execve, so it reports the benchmark's own resident size at the fork that started
 * this process (90 MB and more) whenever that is the larger. VmHWM belongs to the address
 * space exec made. (Until 2026-12-02 this read maxRSS: every earlier RSS row was at least the
 * benchmark's own size.)
 *
 * Plain JavaScript on purpose: a TypeScript preload would make Node load its type stripper
 * into the measured process, some 30 MB that the built `ferry` never loads.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.env.BENCH_MAXRSS_FILE;
if (file !== undefined && file !== '') {
  process.on('exit', () => {
    try {
      const kib = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
      if (kib !== undefined) writeFileSync(file, String(Number(kib) * 1024));
    } catch {
      // A benchmark aid: never change the measured process's outcome.
    }
  });
}
