/**
 * The coordinator's API as a client outside Harmonium sees it: the client here is plain grpc-js
 * with proto-loader reading the .proto files (ours, and the standard health and reflection protos
 * that ship with their npm packages); only the job's JSON is compiled with Harmonium's config code,
 * since SubmitJob takes a compiled config. It submits jobs whose output lands under the runs
 * directory, gets INVALID_ARGUMENT for a bad body or an `out` that leaves it, and finds the
 * service healthy and listed by reflection.
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
import { compileJobConfig, parseFlags } from '../core/config/job-config.js';
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

  const compiled = (args: string[], out?: string): string => {
    const config = compileJobConfig({ flags: parseFlags(args), env: {}, jobFile: null });
    return JSON.stringify(out === undefined ? config : { ...config, out });
  };

  it('SubmitJob puts every job under the runs directory', async () => {
    const info = await call(api, 'SubmitJob', {
      configJson: compiled(['--model', 'ae', '--epochs', '2', '--out', 'ae']),
    });
    assert.equal(info['model'], 'ae');
    assert.equal(info['state'], 'PENDING');
    assert.equal(info['out'], join(runsDir, 'ae'));
    const status = await call(api, 'GetStatus', {});
    const jobs = status['jobs'] as Array<Record<string, unknown>>;
    assert.ok(jobs.some((j) => j['jobId'] === info['jobId']));
    const other = await call(api, 'SubmitJob', { configJson: compiled(['--model', 'rbm'], ''), workers: 3 });
    assert.equal(other['out'], join(runsDir, 'rbm'));
    assert.equal(other['workers'], 3);
  });

  it('answers a bad body, or an out that leaves the runs directory, with INVALID_ARGUMENT', async () => {
    const cases: Array<[string, number, RegExp]> = [
      [compiled(['--model', 'ae'], '../escape'), 0, /\[CONFIG_INVALID\].*out.*runs directory/],
      [compiled(['--model', 'ae'], '/etc/harmonium'), 0, /out.*runs directory/],
      ['model: ae', 0, /config_json.*not JSON/],
      ['{"epochs": 2}', 0, /config_json.*model and out are required/],
      [compiled(['--model', 'ae', '--batch-size', '2'], 'x'), 4, /batch-size/],
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
