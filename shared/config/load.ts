/**
 * Reads a YAML config file and validates it with a zod schema, turning every problem into
 * a line that names the field path. Relative file paths in a config are resolved against
 * the config file's own directory, so a config works whatever the caller's cwd.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { issueLines } from '../issues.ts';
import { ConfigError } from './errors.ts';

export async function loadConfigFile<S extends z.ZodType>(file: string, schema: S): Promise<{ config: z.output<S>; dir: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(file, [`cannot read the file (${code})`], { cause });
  }
  const result = schema.safeParse(parseYaml(text, file) ?? {});
  if (!result.success) throw new ConfigError(file, issueLines(result.error, '(top level)'));
  return { config: result.data, dir: path.dirname(path.resolve(file)) };
}

/** YAML (or JSON) text as a value; a syntax error is a ConfigError naming `file` and the line. */
export function parseYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `YAML ${e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : ''}: ${e.message.split('\n')[0]}`),
    );
  }
  return doc.toJS();
}

export function resolveFrom(dir: string, p: string): string {
  return path.resolve(dir, p);
}
