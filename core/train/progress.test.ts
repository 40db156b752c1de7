import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, ProgressReporter, type ProgressStream } from './progress.js';

class FakeStream implements ProgressStream {
  out = '';
  /** `out` with the erase-line escape written as <EL>, so patterns hold no control characters. */
  get shown(): string {
    return this.out.replaceAll('\x1b[K', '<EL>');
  }
  constructor(
    readonly isTTY: boolean,
    readonly columns?: number,
  ) {}
  write(chunk: string): boolean {
    this.out += chunk;
    return true;
  }
}

/** A clock the test moves by hand, in ms. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

test('on a terminal: one line redrawn with \\r, throttled, with percent, rate, loss and ETA', () => {
  const stream = new FakeStream(true);
  const clock = fakeClock();
  const p = new ProgressReporter({ totalSteps: 100, stream, now: clock.now, redrawIntervalMs: 100 });
  clock.advance(1000);
  p.update({ step: 10, imagesSeen: 640, loss: 0.25, epoch: 1 });
  clock.advance(50);
  p.update({ step: 11, imagesSeen: 704, loss: 0.24, epoch: 1 }); // within 100 ms: not drawn
  assert.equal(stream.out.split('\r').length - 1, 1);
  assert.ok(!stream.out.includes('\n'));
  assert.match(stream.shown, /^\r\[##-+\] 10\.0% step 10\/100 epoch 1 loss 0\.2500 640 img\/s ETA 9s<EL>$/);

  clock.advance(1000);
  p.update({ step: 50, imagesSeen: 3200, loss: 0.125 });
  assert.match(stream.shown, /\r\[#{12}-{12}\] 50\.0% step 50\/100 loss 0\.1250 1561 img\/s ETA 2s<EL>$/);

  p.message('epoch 1 done');
  assert.ok(stream.out.includes('\r\x1b[Kepoch 1 done\n\r['), 'message clears the bar, then redraws it');

  p.update({ step: 100, imagesSeen: 6400, loss: 0.1 }); // the last step is always drawn
  p.finish();
  assert.match(stream.shown, /100\.0% step 100\/100 .*ETA 0s<EL>\n$/);
});

test('on a terminal the line is cut to the width', () => {
  const stream = new FakeStream(true, 40);
  const p = new ProgressReporter({ totalSteps: 10, stream, now: fakeClock().now });
  p.update({ step: 1, imagesSeen: 1, loss: 1 });
  assert.equal(stream.out.replace('\r', '').replace('\x1b[K', '').length, 39);
});

test('not a terminal: plain lines at most every interval, and the last one at finish', () => {
  const stream = new FakeStream(false);
  const clock = fakeClock();
  const p = new ProgressReporter({
    totalSteps: 1000,
    stream,
    now: clock.now,
    logIntervalMs: 10_000,
    startStep: 100,
    startImages: 6400,
  });
  for (let step = 101; step <= 400; step++) {
    clock.advance(100); // 10 steps per second, 64 images per step
    p.update({ step, imagesSeen: step * 64, loss: 2 });
  }
  const lines = stream.out.trimEnd().split('\n');
  // 30 s of updates with a 10 s interval: the first update, then one every 10 s.
  assert.equal(lines.length, 3, stream.out);
  assert.ok(!stream.out.includes('\r'));
  assert.equal(lines[0], '10.1% step 101/1000 loss 2.000 640 img/s ETA 1m30s');
  assert.equal(lines[2], '30.1% step 301/1000 loss 2.000 640 img/s ETA 1m10s');
  p.finish();
  assert.match(stream.out, /\n40\.0% step 400\/1000 loss 2\.000 640 img\/s ETA 1m00s\n$/);
  p.message('done');
  assert.ok(stream.out.endsWith('\ndone\n'));
});

test('formatDuration', () => {
  assert.equal(formatDuration(42.4), '42s');
  assert.equal(formatDuration(185), '3m05s');
  assert.equal(formatDuration(3720), '1h02m');
});
