import assert from 'node:assert/strict';
import { test } from 'node:test';

import { curveOf, PICTURE_NAME, type JobPageData } from './job-page-data.js';
import { renderJobPage } from './job-page-html.js';

function data(over: Partial<JobPageData['job']> = {}): JobPageData {
  return {
    job: {
      id: 'vae-1',
      state: 'RUNNING',
      message: '',
      model: 'vae',
      generation: 1,
      step: 10,
      totalSteps: 100,
      worldSize: 2,
      workers: 2,
      minWorkers: 1,
      submittedAt: 0,
      endedAt: null,
      ...over,
    },
    ranks: [{ rank: 0, worker: 'w0', step: 10, heartbeatAgeSeconds: 0.4 }],
    generations: [],
    failures: [],
    curve: curveOf([{ step: 5, epoch: 0, loss: 3, images_per_second: 100 }]),
    pictures: ['samples-epoch-001.png'],
    updatedAt: 0,
  };
}

/** The JSON the page carries, read back as the browser reads it. */
function embedded(html: string): JobPageData {
  const m = /<script type="application\/json" id="job-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, 'the page carries its data');
  return JSON.parse(m[1]!) as JobPageData;
}

test('the page carries its data and how it is served', () => {
  const live = renderJobPage(data(), { live: true, picturesBase: 'pictures/' });
  assert.match(live, /<body data-live="true" data-pictures="pictures\/"/);
  assert.deepEqual(embedded(live), data());
  const file = renderJobPage(data({ state: 'SUCCEEDED' }), { live: false, picturesBase: '' });
  assert.match(file, /<body data-live="false" data-pictures=""/);
  assert.doesNotMatch(file, /<(script|link|img)[^>]+(src|href)="https?:/, 'nothing loaded from elsewhere');
});

test('a message or id that holds markup cannot close the data or inject a script', () => {
  const evil = '</script><script>alert(1)</script><!--';
  const html = renderJobPage(data({ id: '<b>x</b>', message: evil }), {
    live: true,
    picturesBase: 'pictures/',
  });
  assert.equal(html.match(/<script/g)?.length, 2, 'the data and the page script, nothing else');
  assert.equal(embedded(html).job.message, evil);
  assert.match(html, /Harmonium job &lt;b&gt;x&lt;\/b&gt;/);
});

test('curveOf keeps records in step order, drops partial ones, and keeps a divergence as a gap', () => {
  const curve = curveOf([
    { step: 10, epoch: 0, loss: 2, images_per_second: 50 },
    { step: 5, epoch: 0, loss: 3, images_per_second: 40 },
    { step: NaN, epoch: 0, loss: 1, images_per_second: 1 },
    { step: 15, epoch: 1, loss: Infinity, images_per_second: 45 },
  ]);
  assert.deepEqual(
    curve.map((p) => p.step),
    [5, 10, 15],
  );
  assert.ok(Number.isNaN(curve[2]!.loss));
  assert.equal(JSON.parse(JSON.stringify(curve))[2].loss, null, 'NaN travels as null, a gap');
});

test('a picture name is a plain PNG file name, never a path', () => {
  for (const ok of ['samples-epoch-001.png', 'filters.png']) assert.match(ok, PICTURE_NAME);
  for (const bad of ['../summary.json', 'a/b.png', '.png', 'x.PNG.exe', '..png', 'x.txt', '%2e%2e.png'])
    assert.doesNotMatch(bad, PICTURE_NAME, bad);
});
