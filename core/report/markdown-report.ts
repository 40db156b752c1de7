/**
 * A report as one Markdown file (CommonMark with GitHub's tables): a title, one sentence, the
 * table of runs with links to each summary.json and picture, and the skipped files.
 */
import type { RunEntry } from './find-runs.js';
import { markdownCode, markdownText } from './markdown-escape.js';
import { buildReportTable, type ReportCell, type ReportOptions, type ReportTable } from './report-table.js';

/** The Markdown report of `runs`; the same runs and options always give the same text. */
export function renderMarkdown(runs: readonly RunEntry[], opts: ReportOptions): string {
  return markdownFromTable(buildReportTable(runs, opts));
}

/** The Markdown of a built table. */
export function markdownFromTable(t: ReportTable): string {
  const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  const lines = [
    `# ${markdownText(t.title)}`,
    '',
    t.intro.map(markdownCell).join(''),
    '',
    row(t.columns.map((c) => (c.code ? markdownCode(c.header) : markdownText(c.header)))),
    row(t.columns.map((c) => (c.numeric ? '---:' : '---'))),
    ...t.rows.map((cells) => row(cells.map(markdownCell))),
  ];
  if (t.skipped.length > 0) {
    lines.push('', '## Skipped', '');
    for (const s of t.skipped) {
      lines.push(`- ${markdownLink(s.run, s.href)}: ${markdownText(s.reason)}`);
    }
  }
  return lines.join('\n') + '\n';
}

function markdownCell(c: ReportCell): string {
  switch (c.kind) {
    case 'text':
      return c.code ? markdownCode(c.text) : markdownText(c.text);
    case 'link':
      return markdownLink(c.text, c.href);
    case 'pictures':
      return c.pictures.map((p) => markdownLink(p.label, p.href)).join(' ');
  }
}

/** `[text](href)`; hrefs come from relativeHref, already percent-encoded. */
function markdownLink(text: string, href: string): string {
  return `[${markdownText(text)}](${href})`;
}
