import assert from 'node:assert/strict';
import { test } from 'node:test';

import { findRuns } from './find-runs.js';
import { renderHtml } from './html-report.js';
import { aeSummary, rbmSummary, tmp, writeRun } from './testing.js';

/** The rows of the page's table as lists of raw cell HTML; the header first. */
function rows(html: string): string[][] {
  return [...html.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) =>
    [...m[1]!.matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/g)].map((c) => c[1]!),
  );
}

test('a self-contained page: the same table, pictures as thumbnails linking to the full image', async () => {
  const root = tmp();
  writeRun(root, 'ae-small', aeSummary({ pictures: [] }));
  writeRun(root, 'rbm20', rbmSummary());
  const { runs } = await findRuns(root);
  const html = renderHtml(runs, { outDir: root, runsDir: root });
  assert.ok(html.startsWith('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">'));
  assert.ok(html.endsWith('</body>\n</html>\n'));
  assert.doesNotMatch(html, /<script|<link|https?:/, 'no script, stylesheet or remote resource');
  const [head, ae, rbm] = rows(html);
  assert.equal(head![0], 'run');
  assert.equal(head![12], '<code>sse_per_image</code>');
  assert.equal(ae!.length, head!.length);
  assert.equal(rbm!.length, head!.length);
  assert.equal(ae![0], '<a href="ae-small/summary.json">ae-small</a>');
  assert.equal(ae![ae!.length - 1], '', 'a run without pictures has an empty pictures cell');
  assert.equal(rbm![head!.indexOf('<code>probe_accuracy</code>')], '55.8 %');
  assert.equal(rbm![head!.indexOf('<code>reconstruction_loss</code>')], '–');
  const pictures = rbm![rbm!.length - 1]!;
  assert.equal([...pictures.matchAll(/<img /g)].length, 5);
  assert.ok(
    pictures.startsWith(
      '<a href="rbm20/reconstructions.png"><img src="rbm20/reconstructions.png" alt="reconstructions" ' +
        'title="reconstructions" loading="lazy"></a>',
    ),
    pictures,
  );
});

test('strings from the files are HTML-escaped, in text and in attributes', async () => {
  const root = tmp();
  writeRun(
    root,
    'x',
    aeSummary({
      model: '<script>alert("m")</script>',
      dataset: `a & b's "data"`,
      hyper: { note: '<img src=x onerror=alert(1)>' },
      pictures: ['"><script>.png'],
    }),
  );
  writeRun(
    root,
    'broken',
    JSON.stringify({ ...aeSummary(), backend: '<b>' }).replace('"backend"', '"backend_"'),
  );
  const { runs, skipped } = await findRuns(root);
  const html = renderHtml(runs, { outDir: root, skipped, title: 'A <title> & more' });
  assert.doesNotMatch(html, /<script|<img src=x|<b>/);
  assert.match(html, /<title>A &lt;title&gt; &amp; more<\/title>/);
  assert.match(html, /<td>&lt;script&gt;alert\(&quot;m&quot;\)&lt;\/script&gt;<\/td>/);
  assert.match(html, /<td>a &amp; b&#39;s &quot;data&quot;<\/td>/);
  assert.match(html, /<code>--note &#39;&lt;img src=x onerror=alert\(1\)&gt;&#39;<\/code>/);
  assert.match(html, /<img src="x\/%22%3E%3Cscript%3E.png" alt="&quot;&gt;&lt;script&gt;"/);
  assert.match(
    html,
    /<li><a href="broken\/summary.json">broken<\/a>: field &quot;backend&quot;: expected a non-empty string, got nothing<\/li>/,
  );
});
