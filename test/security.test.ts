/**
 * Security with real processes: `harmonium certs create` writes a CA, a node certificate and a
 * token in the file names of a Kubernetes TLS secret; a standalone coordinator will not start
 * without a TLS directory unless told --insecure; against a coordinator with mutual TLS, a
 * plaintext client and a client of another CA are refused at the handshake, a call without the
 * token or with a wrong one is UNAUTHENTICATED, and a caller with the token and a certificate still
 * cannot report, fail, leave, fetch or save state as a worker that joined from another process;
 * and a 2-worker job over mutual TLS ends with the same parameters, bit for bit, as over plaintext.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClusterError } from '../core/errors.js';
import { createCertificates } from '../core/security/certificate-authority.js';
import { ClusterCredentials } from '../core/security/cluster-credentials.js';
import { readTlsDir } from '../core/security/tls-dir.js';
import { CoordinatorClient } from '../worker/coordinator-client.js';
import { harmonium } from './cli-helpers.js';
import { TINY_JOB_OPTIONS, tinyJob } from './jobs.js';
import { Cluster, until } from './processes.js';

const tmp = mkdtempSync(join(tmpdir(), 'harmonium-security-'));

/** The Harmonium error code a call was refused with. */
async function refusal(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof ClusterError, `expected a ClusterError, got ${String(err)}`);
    return err.code === 'RPC_FAILED' ? `RPC_FAILED ${err.message}` : err.code;
  }
  return 'accepted';
}

describe('security', () => {
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('certs create writes ca.crt, tls.crt, tls.key and token, keys private, and keeps its CA when run again', () => {
    const dir = join(tmp, 'certs');
    const r = harmonium(['certs', 'create', dir, '--hosts', 'coordinator.example,10.1.2.3']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /kubectl -n harmonium create secret generic harmonium-tls/);
    const cert = new X509Certificate(readFileSync(join(dir, 'tls.crt')));
    const ca = new X509Certificate(readFileSync(join(dir, 'ca.crt')));
    assert.ok(cert.verify(ca.publicKey), 'the node certificate is signed by the CA');
    assert.ok(ca.ca && !cert.ca);
    for (const san of [
      'DNS:harmonium',
      'DNS:localhost',
      'IP Address:127.0.0.1',
      'DNS:coordinator.example',
      'IP Address:10.1.2.3',
    ]) {
      assert.ok(cert.subjectAltName?.split(', ').includes(san), `${san} in ${cert.subjectAltName}`);
    }
    assert.match(
      cert.keyUsage?.join(',') ?? '',
      /1\.3\.6\.1\.5\.5\.7\.3\.1.*1\.3\.6\.1\.5\.5\.7\.3\.2/,
      'server and client use',
    );
    for (const f of ['tls.key', 'ca.key', 'token'])
      assert.equal(statSync(join(dir, f)).mode & 0o077, 0, `${f} is private`);
    const token = readFileSync(join(dir, 'token'), 'utf8');
    assert.equal(harmonium(['certs', 'create', dir, '--hosts', 'other.example']).status, 0);
    assert.equal(readFileSync(join(dir, 'ca.crt'), 'utf8'), ca.toString(), 'the CA is kept');
    assert.equal(readFileSync(join(dir, 'token'), 'utf8'), token, 'the token is kept');
    assert.notEqual(harmonium(['certs', 'create', dir, '--hosts', 'bad host;rm']).status, 0);
  });

  it('a coordinator or worker without --tls-dir refuses to start unless told --insecure', () => {
    for (const cmd of [
      ['coordinator', '--listen', '127.0.0.1:0'],
      ['worker', '--coordinator', '127.0.0.1:1'],
    ]) {
      const r = harmonium(cmd, { HARMONIUM_TLS_DIR: '' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /\[CONFIG_INVALID\]: tls-dir: required: .* or --insecure/);
    }
    const both = harmonium(['coordinator', '--listen', '127.0.0.1:0', '--insecure', '--tls-dir', tmp]);
    assert.match(both.stderr, /insecure: contradicts --tls-dir/);
    const broken = harmonium(['coordinator', '--listen', '127.0.0.1:0', '--tls-dir', tmp]);
    assert.match(broken.stderr, /tls-dir: cannot read .*ca\.crt/);
  });

  describe('against a coordinator with mutual TLS and a token', () => {
    let cluster: Cluster;
    let foreignDir: string;

    before(async () => {
      cluster = await Cluster.start(join(tmp, 'runs'));
      await cluster.addWorker();
      foreignDir = join(tmp, 'foreign');
      await createCertificates(foreignDir);
    });
    after(() => cluster.stop());

    const status = (credentials: ClusterCredentials): Promise<unknown> => {
      const client = new CoordinatorClient(cluster.address, credentials);
      return client.status().finally(() => client.close());
    };

    it('refuses plaintext, a foreign CA, and calls without the right token', async () => {
      const tls = cluster.credentials.tls!;
      assert.match(
        await refusal(status(ClusterCredentials.INSECURE)),
        /RPC_FAILED .*UNAVAILABLE|No connection|give --tls-dir/,
      );
      const foreign = ClusterCredentials.of(readTlsDir(foreignDir), cluster.credentials.token);
      assert.match(await refusal(status(foreign)), /RPC_FAILED/);
      assert.equal(await refusal(status(ClusterCredentials.of(tls, null))), 'UNAUTHENTICATED');
      const wrong = ClusterCredentials.of(tls, 'x'.repeat(43));
      assert.equal(await refusal(status(wrong)), 'UNAUTHENTICATED');
      const client = new CoordinatorClient(cluster.address, wrong);
      try {
        assert.equal(
          await refusal(client.submitJob(JSON.stringify(TINY_JOB_OPTIONS), 0, 'stranger')),
          'UNAUTHENTICATED',
        );
        assert.equal(await refusal(client.cancelJob('any', 'stranger')), 'UNAUTHENTICATED');
      } finally {
        client.close();
      }
      // And through the CLI, which says what is wrong.
      const cli = harmonium(['status', '--coordinator', cluster.address, '--tls-dir', cluster.tlsDir!], {
        HARMONIUM_TOKEN: 'y'.repeat(43),
      });
      assert.notEqual(cli.status, 0);
      assert.match(cli.stderr, /\[UNAUTHENTICATED\].*needs the cluster token/);
      assert.equal(await refusal(status(cluster.credentials)), 'accepted');
    });

    it('a caller with the token and a certificate cannot act as a worker that joined from another process', async () => {
      const victim = await until('the worker in the status', 10_000, async () => {
        const w = (await cluster.status()).workers?.[0];
        return w ? w : null;
      });
      const id = victim.workerId!;
      const impostor = new CoordinatorClient(cluster.address, cluster.credentials).as(id, 'f'.repeat(64));
      try {
        const calls: Record<string, () => Promise<unknown>> = {
          Heartbeat: () => impostor.heartbeat('', 0, 0, 5000),
          Report: () =>
            impostor.report({
              jobId: 'j',
              generation: 1,
              rank: 0,
              step: 1,
              totalSteps: 1,
              epoch: 0,
              imagesSeen: 1,
              loss: 0,
              log: [],
            }),
          Fail: () => impostor.fail('j', 1, 0, 'IO', 'made up', -1),
          GenerationDone: () =>
            impostor.generationDone({
              jobId: 'j',
              generation: 1,
              reason: 'broken',
              step: 0,
              inProgress: false,
            }),
          Leave: () => impostor.leave('made up'),
          FetchState: () => impostor.fetchState('j', 0, 1),
          Finish: () => impostor.finish('j', '{}', []),
        };
        for (const [name, call] of Object.entries(calls)) {
          assert.equal(await refusal(call()), 'PERMISSION_DENIED', name);
        }
        const joined = await new Promise<string>((resolve) => {
          const stop = impostor.join(
            {
              workerId: id,
              collectiveAddress: '127.0.0.1:1',
              hostname: victim.hostname!,
              pid: victim.pid!,
              metricsAddress: '',
            },
            () => undefined,
            (err) => {
              stop();
              resolve(err?.code ?? 'ended');
            },
          );
        });
        assert.equal(joined, 'PERMISSION_DENIED');
        // Without any key, a call as a worker is not even authenticated.
        const keyless = new CoordinatorClient(cluster.address, cluster.credentials).as(id);
        assert.equal(await refusal(keyless.heartbeat('', 0, 0, 5000)), 'UNAUTHENTICATED');
        keyless.close();
      } finally {
        impostor.close();
      }
      const after = (await cluster.status()).workers?.find((w) => w.workerId === id);
      assert.ok(after, 'the worker is still in the pool');
      assert.ok(Number(after.lastHeartbeatAgeSeconds) < 5, 'and still heartbeating');
      assert.doesNotMatch(cluster.coordinator.output(), new RegExp(`${id}[^\\n]* is leaving`));
      // Each kind of refusal is logged with the caller's address, once a minute per caller.
      const refusals =
        cluster.coordinator.output().match(/refused a call from \S+: \[PERMISSION_DENIED\]/g) ?? [];
      assert.equal(refusals.length, 1, cluster.coordinator.output());
    });
  });

  it('a 2-worker job over mutual TLS ends with the same parameters as over plaintext', () => {
    const weights = (mode: string[]): Buffer => {
      const out = join(tmp, `same-${mode.join('') || 'tls'}`);
      const r = harmonium(['train', ...tinyJob(out), '--workers', '2', ...mode]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, mode.length ? /plaintext, no token/ : /mutual TLS .* token required/);
      return readFileSync(join(out, 'checkpoint', 'weights.bin'));
    };
    assert.ok(weights([]).equals(weights(['--insecure'])), 'weights.bin differs');
  });
});
