import { z } from 'zod';

/**
 * The root of Ferry's error families. Every error Ferry raises on purpose extends
 * {@link FerryError}, through one base per module (BundleError, NexusError, RegistryError,
 * StateError, ExportError, ImportError, ReceiptError, ConfigError, …), so a caller catches
 * all of Ferry's errors, or one module's, with a single `instanceof`. Each carries `cause`
 * and names what failed and where — never a credential.
 */
export class FerryError extends Error {
  override readonly name: string = 'FerryError';
}

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
  return z.core.toDotPath([...parent, ...issue.path]) || root;
}

/** An issue's message without zod's `Invalid input: ` prefix; `required` for a missing value. */
export function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) return 'required';
  if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  return issue.message.replace(/^Invalid input: /, '');
}
