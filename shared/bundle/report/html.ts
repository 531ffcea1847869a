/**
 * HTML built only through {@link html}: every interpolated value is escaped unless it is
 * already {@link SafeHtml} made here, so a name from the source (`<script>`, quotes, `&`)
 * always renders as text. There is no other way to put a string into the page.
 */

/** Markup made by {@link html}; anything else interpolated is text. */
export class SafeHtml {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text as HTML text or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

type Part = SafeHtml | string | number | null | undefined | false | readonly Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (part instanceof SafeHtml) return part.value;
  if (Array.isArray(part)) return part.map(render).join('');
  return escapeHtml(String(part));
}

/** A template whose interpolations are escaped (arrays joined; null, undefined and false dropped). */
export function html(strings: TemplateStringsArray, ...parts: Part[]): SafeHtml {
  let out = strings[0]!;
  parts.forEach((part, i) => {
    out += render(part) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

/** Trusted constant markup (the style sheet): never pass anything derived from a bundle. */
export function trusted(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
