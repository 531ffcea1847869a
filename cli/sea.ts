/**
 * Entry of the single executable (`npm run build:exe`, scripts/exe/sea.ts): the program of
 * `dist/ferry.js`, started here because its own start sits under `import.meta.main`, which a
 * CommonJS bundle does not have. In the executable `process.argv` is [executable, executable,
 * ...arguments], as under node.
 */
import { main } from './ferry.ts';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ferry: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
