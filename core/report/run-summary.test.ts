import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DataError } from '../errors.js';
import { RunSummaryError } from './run-summary-error.js';
import { parseRunSummary, validateRunSummary } from './run-summary.js';
import { aeSummary, rbmSummary } from './testing.js';

const FILE = 'runs/ae/summary.json';

/** An assert.throws validator: a RunSummaryError (a DataError) naming FILE, with this detail. */
function isSummaryError(code: string, detail: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof RunSummaryError, `expected RunSummaryError, got ${String(e)}`);
    assert.ok(e instanceof DataError);
    assert.equal(e.code, code);
    assert.equal(e.file, FILE);
    assert.ok(e.message.startsWith(`${FILE}: `), e.message);
    assert.match(e.detail, detail);
    return true;
  };
}

/** `summary` as summary.json text, with `edit` applied to the parsed object first. */
function text(summary: object, edit: (o: Record<string, unknown>) => void = () => {}): string {
  const o = JSON.parse(JSON.stringify(summary)) as Record<string, unknown>;
  edit(o);
  return JSON.stringify(o, null, 2);
}

test('real summaries pass, with the fields a report shows', () => {
  const ae = parseRunSummary(text(aeSummary()), FILE);
  assert.equal(ae.model, 'ae');
  assert.deepEqual(Object.keys(ae.hyper), ['layers', 'activation', 'code-activation', 'tied', 'loss']);
  assert.equal(ae.threads, 2);
  assert.equal(ae.test?.probe_accuracy, 0.682);
  assert.deepEqual(ae.pictures, [
    'reconstructions.png',
    'filters.png',
    'latent-scatter.png',
    'interpolation.png',
  ]);
  const rbm = parseRunSummary(text(rbmSummary({ resumed_from_step: 1200, test: null, pictures: [] })), FILE);
  assert.equal(rbm.resumed_from_step, 1200);
  assert.equal(rbm.test, null);
  assert.deepEqual(rbm.pictures, []);
});

test('a summary written before threads were recorded passes with threads null', () => {
  const s = parseRunSummary(
    text(aeSummary(), (o) => {
      delete o.threads;
      delete o.backend_detail;
    }),
    FILE,
  );
  assert.equal(s.threads, null);
});

test('non-finite figures (written as null) pass as null', () => {
  const s = parseRunSummary(
    text(aeSummary(), (o) => {
      o.images_per_second = null;
      (o.test as Record<string, unknown>).sse_per_image = null;
    }),
    FILE,
  );
  assert.equal(s.images_per_second, null);
  assert.equal(s.test?.sse_per_image, null);
});

test('broken files fail naming the file and the field', () => {
  assert.throws(
    () => parseRunSummary('{"model": "ae",', FILE),
    isSummaryError('DATA_FORMAT', /^not valid JSON/),
  );
  assert.throws(() => parseRunSummary('[1, 2]', FILE), isSummaryError('DATA_FORMAT', /field "\(root\)"/));
  const cases: [(o: Record<string, unknown>) => void, RegExp][] = [
    [(o) => delete o.model, /field "model": expected a non-empty string, got nothing/],
    [(o) => (o.epochs = 'two'), /field "epochs": expected an integer >= 0, got "two"/],
    [(o) => (o.workers = 0), /field "workers": expected an integer >= 1, got 0/],
    [(o) => (o.batch_size = 1.5), /field "batch_size"/],
    [(o) => (o.threads = 'auto'), /field "threads"/],
    [(o) => (o.hyper = [64, 16]), /field "hyper": expected an object/],
    [(o) => (o.train_seconds = -1), /field "train_seconds": expected a number >= 0 or null, got -1/],
    [(o) => delete o.test, /field "test": expected an object of figures or null, got nothing/],
    [(o) => ((o.test as Record<string, unknown>).probe_accuracy = '68%'), /field "test.probe_accuracy"/],
    [(o) => (o.pictures = 'a.png'), /field "pictures": expected a list of file names/],
    [
      (o) => (o.pictures = ['a.png', '../../etc/passwd']),
      /field "pictures\[1\]": expected a file name inside/,
    ],
    [(o) => (o.pictures = ['/etc/passwd']), /field "pictures\[0\]"/],
    [(o) => (o.resumed_from_step = -3), /field "resumed_from_step"/],
  ];
  for (const [edit, detail] of cases) {
    assert.throws(
      () => parseRunSummary(text(aeSummary(), edit), FILE),
      isSummaryError('DATA_FORMAT', detail),
    );
  }
});

test('the message shows the value found, cut short when long', () => {
  assert.throws(
    () => validateRunSummary({ ...aeSummary(), model: 7 }, FILE),
    isSummaryError('DATA_FORMAT', /field "model": expected a non-empty string, got 7$/),
  );
  assert.throws(
    () => validateRunSummary({ ...aeSummary(), dataset: ['y'.repeat(500)] }, FILE),
    (e: unknown) => e instanceof RunSummaryError && e.detail.length < 140 && e.detail.endsWith('...'),
  );
});
