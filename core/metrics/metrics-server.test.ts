import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { test } from 'node:test';
import { Counter, Gauge, Registry } from 'prom-client';
import { HarmoniumError } from '../errors.js';
import { createCoordinatorPresence } from './coordinator-presence.js';
import { serveMetrics } from './metrics-server.js';

function registryWithCounter(): Registry {
  const registry = new Registry();
  new Counter({ name: 'harmonium_test_total', help: 'test', registers: [registry] }).inc(7);
  return registry;
}

test('GET /metrics answers the registry in its content type; other paths are 404, other methods 405', async () => {
  const registry = registryWithCounter();
  const server = await serveMetrics(registry, { host: '127.0.0.1', port: 0 });
  try {
    assert.equal(server.address, '127.0.0.1');
    assert.ok(server.port > 0);
    const base = `http://127.0.0.1:${server.port}`;

    const ok = await fetch(`${base}/metrics`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-type'), registry.contentType);
    assert.match(await ok.text(), /^harmonium_test_total 7$/m);
    assert.equal((await fetch(`${base}/metrics?format=prometheus`)).status, 200);

    for (const path of ['/', '/metric', '/metrics/x']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 404, path);
      await res.text();
    }
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  } finally {
    await server.close();
  }
});

test('a failing collector answers 500 and the server keeps serving', async () => {
  const registry = new Registry();
  let broken = true;
  new Gauge({
    name: 'harmonium_flaky',
    help: 'test',
    registers: [registry],
    collect() {
      if (broken) throw new Error('sensor unplugged');
      this.set(1);
    },
  });
  const server = await serveMetrics(registry, { host: '127.0.0.1', port: 0 });
  try {
    const url = `http://127.0.0.1:${server.port}/metrics`;
    const bad = await fetch(url);
    assert.equal(bad.status, 500);
    assert.match(await bad.text(), /sensor unplugged/);
    broken = false;
    assert.match(await (await fetch(url)).text(), /^harmonium_flaky 1$/m);
  } finally {
    await server.close();
  }
});

test('a taken port is an IO HarmoniumError naming host:port', async () => {
  const first = await serveMetrics(registryWithCounter(), { host: '127.0.0.1', port: 0 });
  try {
    await assert.rejects(
      serveMetrics(registryWithCounter(), { host: '127.0.0.1', port: first.port }),
      (err) => {
        assert.ok(err instanceof HarmoniumError);
        assert.equal(err.code, 'IO');
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${first.port}.*already in use`));
        assert.equal((err.cause as NodeJS.ErrnoException).code, 'EADDRINUSE');
        return true;
      },
    );
  } finally {
    await first.close();
  }
});

test('close() returns promptly with a keep-alive connection open, and frees the port', async () => {
  const server = await serveMetrics(registryWithCounter(), { host: '127.0.0.1', port: 0 });
  const { port } = server;
  const agent = new Agent({ keepAlive: true });
  // A scrape over a kept-alive connection, as Prometheus makes, left open on purpose.
  const status = await new Promise<number | undefined>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    })
      .on('error', reject)
      .end();
  });
  assert.equal(status, 200);
  await server.close();
  agent.destroy();

  const again = await serveMetrics(registryWithCounter(), { host: '127.0.0.1', port });
  assert.equal(again.port, port);
  await again.close();
});

test('a coordinator serves its presence beside the job it runs, read at each scrape', async () => {
  let leads = false;
  let job: Registry | null = null;
  const presence = createCoordinatorPresence(() => leads);
  const server = await serveMetrics(() => (job ? [presence, job] : [presence]), {
    host: '127.0.0.1',
    port: 0,
  });
  try {
    const scrape = async () => (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    let body = await scrape();
    assert.match(body, /^harmonium_coordinator_leader\{role="coordinator"\} 0$/m);
    assert.doesNotMatch(body, /harmonium_test_total/);
    leads = true;
    job = registryWithCounter();
    body = await scrape();
    assert.match(body, /^harmonium_coordinator_leader\{role="coordinator"\} 1$/m);
    assert.match(body, /^harmonium_test_total 7$/m);
  } finally {
    await server.close();
  }
});
