/**
 * The coordinator's API as a client outside Harmonium sees it: the client here is plain grpc-js
 * with proto-loader reading the .proto files (ours, and the standard health and reflection protos
 * that ship with their npm packages), and the job is a JSON object written by hand, as a client in
 * any language would send it. It submits jobs whose output lands under the runs directory with
 * every default filled in, gets the CLI's own errors as INVALID_ARGUMENT for bad options or an
 * `out` that leaves it, finds that the same job id twice is one job, and finds the service healthy
 * and listed by reflection.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Coordinator } from './coordinator.js';
import { startCoordinatorServer, type CoordinatorServer } from './coordinator-server.js';

const require = createRequire(import.meta.url);
const HERE = dirname(fileURLToPath(import.meta.url));
const COORDINATOR_PROTO = join(HERE, '..', 'proto', 'harmonium', 'v1', 'coordinator.proto');
const HEALTH_PROTO = join(
  dirname(require.resolve('grpc-health-check/package.json')),
  'proto/health/v1/health.proto',
);
const REFLECTION_PROTO = join(
  dirname(require.resolve('@grpc/reflection/package.json')),
  'build/proto/grpc/reflection/v1/reflection.proto',
);

type Unary = (req: object, cb: (err: grpc.ServiceError | null, res: Record<string, unknown>) => void) => void;

function clientOf(proto: string, path: string[], address: string): Record<string, Unary> & grpc.Client {
  let ns: unknown = grpc.loadPackageDefinition(
    loadSync(proto, { longs: Number, enums: String, defaults: true }),
  );
  for (const p of path) ns = (ns as Record<string, unknown>)[p];
  const Ctor = ns as new (
    address: string,
    creds: grpc.ChannelCredentials,
  ) => Record<string, Unary> & grpc.Client;
  return new Ctor(address, grpc.credentials.createInsecure());
}

function call(client: Record<string, Unary>, method: string, req: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) =>
    client[method]!.call(client, req, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

async function rejected(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  assert.fail('the call succeeded');
}

describe('the coordinator API, from a plain gRPC client', () => {
  const runsDir = mkdtempSync(join(tmpdir(), 'harmonium-api-'));
  let server: CoordinatorServer;
  let api: Record<string, Unary> & grpc.Client;
  before(async () => {
    server = await startCoordinatorServer(new Coordinator({ log: () => undefined }), {
      host: '127.0.0.1',
      port: 0,
      runsDir,
    });
    api = clientOf(COORDINATOR_PROTO, ['harmonium', 'v1', 'Coordinator'], server.address);
  });
  after(async () => {
    api.close();
    await server.close();
  });

  it('SubmitJob takes the options of a job file, fills in the defaults and puts the job under the runs directory', async () => {
    const info = await call(api, 'SubmitJob', {
      configJson: JSON.stringify({ model: 'ae', epochs: 2, data: 'fashion-mnist', out: 'ae' }),
    });
    assert.equal(info['model'], 'ae');
    assert.equal(info['state'], 'PENDING');
    assert.equal(info['out'], join(runsDir, 'ae'));
    assert.equal(info['workers'], 1);
    assert.equal(info['minWorkers'], 1);
    const status = await call(api, 'GetStatus', {});
    const jobs = status['jobs'] as Array<Record<string, unknown>>;
    assert.ok(jobs.some((j) => j['jobId'] === info['jobId']));
    const other = await call(api, 'SubmitJob', { configJson: '{"model": "rbm"}', workers: 3 });
    assert.equal(other['out'], join(runsDir, 'rbm'));
    assert.equal(other['workers'], 3);
  });

  it('a refused server-streaming call ends at once with its status, not at its deadline', async () => {
    const started = Date.now();
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      const stream = (
        api as unknown as Record<string, (req: object) => grpc.ClientReadableStream<unknown>>
      ).FetchState!.call(api, { workerId: 'nobody', jobId: 'none', rank: 0, worldSize: 1 });
      stream.on('data', () => undefined);
      stream.on('error', resolve);
    });
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.match(err.details, /\[WORKER_LOST\]/);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });

  it('the same job id twice is one job', async () => {
    const req = { configJson: '{"model": "vae", "epochs": 1}', jobId: 'nightly-vae' };
    const first = await call(api, 'SubmitJob', req);
    const again = await call(api, 'SubmitJob', { ...req, configJson: '{"model": "vae", "epochs": 9}' });
    assert.equal(first['jobId'], 'nightly-vae');
    assert.equal(again['jobId'], 'nightly-vae');
    assert.equal(again['submittedAtMs'], first['submittedAtMs']);
    const jobs = (await call(api, 'GetStatus', {}))['jobs'] as Array<Record<string, unknown>>;
    assert.equal(jobs.filter((j) => j['jobId'] === 'nightly-vae').length, 1);
    const bad = await rejected(call(api, 'SubmitJob', { ...req, jobId: 'a.b' }));
    assert.equal(bad.code, grpc.status.INVALID_ARGUMENT);
    assert.match(bad.details, /job_id/);
  });

  it("answers bad options, or an out that leaves the runs directory, with the CLI's errors as INVALID_ARGUMENT", async () => {
    const cases: Array<[string, number, RegExp]> = [
      ['{"model": "ae", "out": "../escape"}', 0, /\[CONFIG_INVALID\].*out.*runs directory/],
      ['{"model": "ae", "out": "/etc/harmonium"}', 0, /out.*runs directory/],
      ['model: ae', 0, /config_json.*not valid JSON/],
      ['[1, 2]', 0, /config_json.*JSON object/],
      ['{"epochs": 2}', 0, /model.*required/],
      ['{"model": "ae", "epocs": 2}', 0, /epocs.*did you mean epochs/],
      ['{"model": "ae", "epochs": "two"}', 0, /epochs.*expected an integer/],
      ['{"model": "ae", "lr": -1}', 0, /lr/],
      ['{"model": "ae", "activation": "softmax"}', 0, /activation.*one of/],
      ['{"model": "ae", "batch-size": 2}', 4, /batch-size/],
      [`{"model": "ae", "data": "${'x'.repeat(70_000)}"}`, 0, /config_json.*bytes/],
    ];
    for (const [configJson, workers, message] of cases) {
      const err = await rejected(call(api, 'SubmitJob', { configJson, workers }));
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT, configJson.slice(0, 80));
      assert.match(err.details, message);
    }
  });

  it('serves grpc.health.v1 for the server and for the coordinator service', async () => {
    const health = clientOf(HEALTH_PROTO, ['grpc', 'health', 'v1', 'Health'], server.address);
    try {
      for (const service of ['', 'harmonium.v1.Coordinator']) {
        assert.equal((await call(health, 'check', { service }))['status'], 'SERVING');
      }
      const err = await rejected(call(health, 'check', { service: 'no.such.Service' }));
      assert.equal(err.code, grpc.status.NOT_FOUND);
    } finally {
      health.close();
    }
  });

  it('lists and describes its services by server reflection', async () => {
    const reflection = clientOf(
      REFLECTION_PROTO,
      ['grpc', 'reflection', 'v1', 'ServerReflection'],
      server.address,
    );
    try {
      const stream = (
        reflection as unknown as {
          serverReflectionInfo(): grpc.ClientDuplexStream<object, Record<string, unknown>>;
        }
      ).serverReflectionInfo();
      const answers: Array<Record<string, unknown>> = [];
      const done = new Promise<void>((resolve, reject) => {
        stream.on('data', (m: Record<string, unknown>) => answers.push(m));
        stream.on('error', reject);
        stream.on('end', resolve);
      });
      stream.write({ listServices: '' });
      stream.write({ fileContainingSymbol: 'harmonium.v1.Coordinator' });
      stream.end();
      await done;
      const names = (
        (answers[0]?.['listServicesResponse'] as { service: Array<{ name: string }> }).service ?? []
      ).map((s) => s.name);
      assert.ok(names.includes('harmonium.v1.Coordinator'), names.join(', '));
      const files = (answers[1]?.['fileDescriptorResponse'] as { fileDescriptorProto: Buffer[] })
        .fileDescriptorProto;
      assert.ok(files.length > 0 && files.some((f) => f.toString('latin1').includes('SubmitJob')));
    } finally {
      reflection.close();
    }
  });
});
