import assert from 'node:assert/strict';
import { test } from 'node:test';

import { markdownCode, markdownText } from './markdown-escape.js';
import { markdownRowCells } from './testing.js';

test('text escapes what Markdown would read, and stays on one line', () => {
  assert.equal(markdownText('Fashion-MNIST'), 'Fashion-MNIST');
  assert.equal(markdownText('a|b'), 'a\\|b');
  assert.equal(
    markdownText('*x* _y_ [l](u) <b> &amp; `c` ~z~ $m$ \\'),
    '\\*x\\* \\_y\\_ \\[l\\](u) \\<b> \\&amp; \\`c\\` \\~z\\~ \\$m\\$ \\\\',
  );
  assert.equal(markdownText('two\nlines\r\tand tab'), 'two lines  and tab');
});

test('code spans escape pipes; a backtick or backslash falls back to escaped text', () => {
  assert.equal(markdownCode('--layers 64,16'), '`--layers 64,16`');
  assert.equal(markdownCode("--note 'a|b'"), "`--note 'a\\|b'`");
  assert.equal(markdownCode('a`b'), 'a\\`b');
  assert.equal(markdownCode('a\\|b'), 'a\\\\\\|b');
  assert.equal(markdownCode(''), '');
});

test('escaped pipes and backslashes never split a table cell', () => {
  for (const s of ['a|b', 'a\\|b', 'a\\\\|b|', '|', '\\', 'x\\']) {
    for (const cell of [markdownText(s), markdownCode(s)]) {
      assert.equal(markdownRowCells(`| ${cell} | end |`).length, 2, `${JSON.stringify(s)} as ${cell}`);
    }
  }
});
