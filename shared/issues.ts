/**
 * Zod issues in Ferry's words: one formatter for every parser (config files, environment,
 * webhook bodies, manifests, API responses, receipts). Apart from errors.ts so that loading
 * an error class does not load zod (the CLI's start-up).
 */
import type * as z from 'zod';
// From zod's core, not `z.core`: a nested namespace keeps all of zod in a bundle.
import { toDotPath } from 'zod/v4/core';

/**
 * One line per zod issue, `field.path[2]: problem`, as every parser of Ferry reports bad
 * input (config files, environment, webhook bodies, manifests, API responses, receipts).
 * The path is zod's own dot path (`toDotPath`); a missing field reads `required`; `root`
 * names the value itself when the path is empty.
 */
export function issueLines(error: z.ZodError, root = '(root)'): string[] {
  return error.issues.map((issue) => `${issuePath(issue, root)}: ${issueMessage(issue)}`);
}

/**
 * An issue's field path (`items[3].assets[0].path`), or `root` when the value itself is at
 * fault. `parent` is the path of the parsed value inside its document, when it has one
 * (a receipt's `payload`).
 */
export function issuePath(issue: z.core.$ZodIssue, root = '(root)', parent: readonly PropertyKey[] = []): string {
  return toDotPath([...parent, ...issue.path]) || root;
}

/** An issue's message without zod's `Invalid input: ` prefix; `required` for a missing value. */
export function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) return 'required';
  if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  return issue.message.replace(/^Invalid input: /, '');
}
