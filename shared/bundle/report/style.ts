/** The report's one style sheet, inline: the page needs no network, fonts, images or scripts. */
export const REPORT_CSS = `
:root { color-scheme: light; --ink: #1d2430; --muted: #5b6472; --line: #d9dee5; --soft: #f4f6f9;
  --ok: #1f6f43; --ok-bg: #e5f4eb; --warn: #8a4b00; --warn-bg: #fff3df; --bad: #9b1c1c; --bad-bg: #fde8e8; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 14px; margin: 20px 0 6px; }
h3 .meta { font-weight: normal; color: var(--muted); }
p { margin: 6px 0; }
.lede { color: var(--muted); margin: 0; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
.digest { word-break: break-all; }
.banner { margin: 18px 0 0; padding: 12px 16px; border-radius: 6px; border: 1px solid; }
.banner strong { font-size: 15px; margin-right: 6px; }
.banner.verified { color: var(--ok); background: var(--ok-bg); border-color: #a6d8b9; }
.banner.unverified, .banner.sealed { color: var(--bad); background: var(--bad-bg); border-color: #f3b4b4; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { flex: 1 1 160px; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: var(--soft); }
.card .n { font-size: 20px; font-weight: 600; }
.card .what { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.digest { max-width: 260px; }
table.supply-chain td.digest { max-width: 420px; }
td.types { word-break: break-word; }
dl.details { display: grid; grid-template-columns: max-content 1fr; gap: 0 8px; margin: 0; font-size: 12.5px; }
dl.details dt { color: var(--muted); }
dl.details dd { margin: 0; word-break: break-all; }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px; white-space: nowrap; }
.tag.included { color: var(--ok); background: var(--ok-bg); }
.tag.required, .tag.partly { color: var(--warn); background: var(--warn-bg); }
.tag.signature, .tag.attestation, .tag.SBOM { color: var(--ok); background: var(--ok-bg); }
.tag.none { color: var(--bad); background: var(--bad-bg); }
.tag.other { color: var(--muted); background: var(--soft); }
.target { color: var(--muted); }
.none { color: var(--muted); font-style: italic; }
footer { margin-top: 36px; padding-top: 10px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12.5px; }
@media print { body { padding: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
`;
