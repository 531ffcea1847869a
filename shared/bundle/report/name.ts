/** Where a bundle's report goes: beside it, `corp-nexus-00000003.tar` → `corp-nexus-00000003.html`. */
export function reportFileName(bundleName: string): string {
  return `${bundleName.replace(/\.tar$/, '')}.html`;
}

/** Whether a name in the outbox is a report rather than a bundle. */
export function isReportFileName(name: string): boolean {
  return name.endsWith('.html');
}
