/**
 * Certificates renewed in place, as cert-manager renews a mounted secret: a coordinator whose TLS
 * directory is rewritten with another CA's files serves new connections with them, within its
 * reload interval and without a restart (clients of the old CA are then refused, clients of the new
 * one taken); a directory rewritten half-way (a key that is not the certificate's) is reported and
 * the certificates in use stay.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Coordinator } from '../coordinator/coordinator.js';
import { startCoordinatorServer } from '../coordinator/coordinator-server.js';
import { createCertificates } from '../core/security/certificate-authority.js';
import { ClusterCredentials } from '../core/security/cluster-credentials.js';
import { readTlsDir } from '../core/security/tls-dir.js';
import { CoordinatorClient } from '../worker/coordinator-client.js';
import { until } from './processes.js';

const tmp = mkdtempSync(join(tmpdir(), 'harmonium-tls-reload-'));

/** Whether a fresh client with `credentials` gets an answer. */
async function answers(address: string, credentials: ClusterCredentials): Promise<boolean> {
  const client = new CoordinatorClient(address, credentials);
  try {
    await client.status();
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

describe('TLS reload', () => {
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('a coordinator takes renewed certificates for new connections, and keeps its own over a broken renewal', async () => {
    const live = join(tmp, 'live');
    const oldCa = join(tmp, 'old');
    const newCa = join(tmp, 'new');
    await createCertificates(oldCa);
    await createCertificates(newCa);
    const files = ['ca.crt', 'tls.crt', 'tls.key'];
    const install = (from: string, names = files): void => {
      for (const f of names) copyFileSync(join(from, f), join(live, f));
    };
    await createCertificates(live);
    install(oldCa);
    const before = process.env['HARMONIUM_TLS_RELOAD_MS'];
    process.env['HARMONIUM_TLS_RELOAD_MS'] = '200';
    const warnings: string[] = [];
    const warn = console.error;
    console.error = (line: string) => warnings.push(line);
    const server = await startCoordinatorServer(new Coordinator({ log: () => undefined }), {
      host: '127.0.0.1',
      port: 0,
      credentials: ClusterCredentials.of(readTlsDir(live), null),
    });
    try {
      const oldClient = ClusterCredentials.of(readTlsDir(oldCa), null);
      const newClient = ClusterCredentials.of(readTlsDir(newCa), null);
      assert.equal(await answers(server.address, oldClient), true);
      assert.equal(await answers(server.address, newClient), false);
      install(newCa);
      await until('the renewed certificates', 10_000, async () =>
        (await answers(server.address, newClient)) ? true : null,
      );
      assert.equal(await answers(server.address, oldClient), false, 'the old CA is no longer trusted');
      // Half a renewal: the old key beside the new certificate.
      install(oldCa, ['tls.key']);
      await until('the broken renewal reported', 10_000, () =>
        warnings.some((w) =>
          /TLS reload: .*tls\.key is not the key of .*tls\.crt; the certificates in use stay/.test(w),
        )
          ? true
          : null,
      );
      assert.equal(
        await answers(server.address, newClient),
        true,
        'still serving the last good certificates',
      );
    } finally {
      console.error = warn;
      if (before === undefined) delete process.env['HARMONIUM_TLS_RELOAD_MS'];
      else process.env['HARMONIUM_TLS_RELOAD_MS'] = before;
      await server.close();
    }
  });
});
