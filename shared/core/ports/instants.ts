import { InvalidTimestampError } from './errors.ts';

/**
 * Parses an ISO 8601 instant and renders it in one canonical form (`Date#toISOString`, UTC,
 * milliseconds), so that state adapters compare stored watermarks as strings and get the
 * order of instants. Throws {@link InvalidTimestampError} for text that is not one.
 */
export function normaliseInstant(what: string, value: string): string {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new InvalidTimestampError(what, value);
  const iso = new Date(time).toISOString();
  // Outside years 0000–9999 toISOString uses a ±YYYYYY form that no longer sorts as text.
  if (!/^\d{4}-/.test(iso)) throw new InvalidTimestampError(what, value);
  return iso;
}
