/**
 * A report as one self-contained HTML page: the same title, sentence and table as the Markdown
 * report, with each picture as a thumbnail linking to the full image. No script and nothing
 * fetched but the pictures, by relative links.
 */
import type { RunEntry } from './find-runs.js';
import { escapeHtml } from './html-escape.js';
import { buildReportTable, type ReportCell, type ReportOptions, type ReportTable } from './report-table.js';

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1b1b1b; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; vertical-align: top; }
th { background: #f2f2f2; position: sticky; top: 0; text-align: left; }
td.num { text-align: right; white-space: nowrap; }
td.pictures { white-space: nowrap; }
td.pictures img { height: 72px; margin-right: 4px; border: 1px solid #ddd; image-rendering: pixelated; }
code { font-size: 90%; }
`;

/** The HTML report of `runs`; the same runs and options always give the same text. */
export function renderHtml(runs: readonly RunEntry[], opts: ReportOptions): string {
  return htmlFromTable(buildReportTable(runs, opts));
}

/** The HTML page of a built table. */
export function htmlFromTable(t: ReportTable): string {
  const title = escapeHtml(t.title);
  const head = t.columns.map(
    (c) => `<th>${c.code ? `<code>${escapeHtml(c.header)}</code>` : escapeHtml(c.header)}</th>`,
  );
  const body = t.rows.map(
    (cells) =>
      `<tr>${cells
        .map((cell, i) => {
          const cls =
            cell.kind === 'pictures' ? ' class="pictures"' : t.columns[i]?.numeric ? ' class="num"' : '';
          return `<td${cls}>${htmlCell(cell)}</td>`;
        })
        .join('')}</tr>`,
  );
  const lines = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${title}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${title}</h1>`,
    `<p>${t.intro.map(htmlCell).join('')}</p>`,
    '<table>',
    `<thead><tr>${head.join('')}</tr></thead>`,
    '<tbody>',
    ...body,
    '</tbody>',
    '</table>',
  ];
  if (t.skipped.length > 0) {
    lines.push('<h2>Skipped</h2>', '<ul>');
    for (const s of t.skipped) {
      lines.push(`<li>${htmlLink(s.run, s.href)}: ${escapeHtml(s.reason)}</li>`);
    }
    lines.push('</ul>');
  }
  lines.push('</body>', '</html>');
  return lines.join('\n') + '\n';
}

function htmlCell(c: ReportCell): string {
  switch (c.kind) {
    case 'text':
      return c.code ? `<code>${escapeHtml(c.text)}</code>` : escapeHtml(c.text);
    case 'link':
      return htmlLink(c.text, c.href);
    case 'pictures':
      return c.pictures
        .map((p) => {
          const label = escapeHtml(p.label);
          const href = escapeHtml(p.href);
          return `<a href="${href}"><img src="${href}" alt="${label}" title="${label}" loading="lazy"></a>`;
        })
        .join('');
  }
}

function htmlLink(text: string, href: string): string {
  return `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`;
}
