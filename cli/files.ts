/** Command-line file arguments, checked before any work starts (exit 2 with the path named). */
import { stat } from 'node:fs/promises';
import { UsageError } from './usage.ts';

/** Every path must be an existing regular file; `what` says what it should hold ("bundle"). */
export async function requireFiles(paths: string[], what: string): Promise<void> {
  const problems: string[] = [];
  for (const file of paths) {
    try {
      const info = await stat(file);
      if (info.isDirectory()) problems.push(`${file}: is a directory, not a ${what} file`);
      else if (!info.isFile()) problems.push(`${file}: not a regular file (a ${what} file is expected)`);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problems.push(code === 'ENOENT' ? `${file}: no such ${what} file` : `${file}: cannot be read (${code ?? (error as Error).message})`);
    }
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
}
