/**
 * Text from summary.json placed in a Markdown table cell (CommonMark + GitHub tables), so that it
 * shows as the same characters: no pipe ends the cell, no newline ends the row, no `*`, `_`, `[`,
 * `<`, `&` or `$` starts emphasis, a link, HTML, an entity or GitHub's maths.
 */

/** Control characters (newlines, tabs, ...) would break a table row: each becomes a space. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, ' ');
}

/**
 * `s` as literal Markdown text in a table cell: the ASCII punctuation that Markdown reads inside a
 * line is backslash-escaped (`>` is left: without `<` it opens no tag, and a cell never starts a line).
 */
export function markdownText(s: string): string {
  return oneLine(s).replace(/[\\`*_[\]<|~&$]/g, (c) => `\\${c}`);
}

/**
 * `s` as a code span in a table cell: `` `s` `` with pipes escaped (GitHub splits cells before
 * reading code spans). A string with a backtick or a backslash, whose escaping inside a code span
 * differs between renderers, falls back to markdownText; an empty one gives ''.
 */
export function markdownCode(s: string): string {
  const line = oneLine(s);
  if (line.trim() === '') return '';
  if (/[`\\]/.test(line)) return markdownText(line);
  return `\`${line.replace(/\|/g, '\\|')}\``;
}
