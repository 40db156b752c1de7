import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { JobPageData } from '../core/job-page/job-page-data.js';
import { serveJobPages, type JobPageSource } from './job-page-server.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]);

function source(): JobPageSource & { asked: string[] } {
  const asked: string[] = [];
  const data: JobPageData = {
    job: {
      id: 'ae-1',
      state: 'RUNNING',
      message: '',
      model: 'ae',
      generation: 1,
      step: 3,
      totalSteps: 10,
      worldSize: 2,
      workers: 2,
      minWorkers: 1,
      submittedAt: 0,
      endedAt: null,
    },
    ranks: [],
    generations: [],
    failures: [],
    curve: [],
    pictures: ['samples-epoch-001.png'],
    updatedAt: 0,
  };
  return {
    asked,
    jobList: () => [{ id: 'ae-1', state: 'RUNNING', model: 'ae' }],
    pageData: (id) => (id === 'ae-1' ? data : null),
    picture: async (id, name) => {
      asked.push(name);
      return id === 'ae-1' && name === 'samples-epoch-001.png' ? PNG : null;
    },
  };
}

test('the job pages: a list, a page per job, its data and its pictures; nothing else', async () => {
  const s = source();
  const server = await serveJobPages(s, { host: '127.0.0.1', port: 0 });
  try {
    const get = (path: string, init?: RequestInit) =>
      fetch(`${server.url}${path}`, { redirect: 'manual', ...init });
    const list = await get('/');
    assert.equal(list.status, 200);
    assert.match(await list.text(), /<a href="\/jobs\/ae-1\/">ae-1<\/a>/);
    const moved = await get('/jobs/ae-1');
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.get('location'), '/jobs/ae-1/');
    const page = await get('/jobs/ae-1/');
    assert.equal(page.status, 200);
    assert.match(await page.text(), /data-live="true" data-pictures="pictures\/"/);
    const status = await get('/jobs/ae-1/status.json');
    assert.equal(status.headers.get('content-type'), 'application/json');
    assert.equal(((await status.json()) as JobPageData).job.step, 3);
    const picture = await get('/jobs/ae-1/pictures/samples-epoch-001.png');
    assert.equal(picture.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await picture.arrayBuffer()), PNG);
    for (const path of [
      '/jobs/nope/',
      '/jobs/ae-1/pictures/..%2Fsummary.json',
      '/jobs/ae-1/pictures/%2e%2e%2fcheckpoint.png',
      '/jobs/ae-1/pictures/missing.png',
      '/jobs/ae-1/other',
      '/jobs/%E0%A4%A/',
    ]) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      await r.text();
    }
    // A name that is not a plain PNG file name never reaches the source.
    assert.deepEqual(s.asked, ['samples-epoch-001.png', 'missing.png']);
    const post = await get('/jobs/ae-1/', { method: 'POST' });
    assert.equal(post.status, 405);
  } finally {
    await server.close();
  }
});

test('a taken port is an IO error naming the address', async () => {
  const first = await serveJobPages(source(), { host: '127.0.0.1', port: 0 });
  try {
    await assert.rejects(
      serveJobPages(source(), { host: '127.0.0.1', port: first.port }),
      new RegExp(`job pages cannot listen on 127\\.0\\.0\\.1:${first.port}: the port is already in use`),
    );
  } finally {
    await first.close();
  }
});
