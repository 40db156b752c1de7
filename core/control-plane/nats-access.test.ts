/**
 * NATS that asks for credentials, on a real nats-server: user and password, an nkey, and TLS with
 * a client certificate, each given as a coordinator gets them (`--nats-creds`, `--nats-tls-dir`);
 * without them the store does not open, and says why.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nkeyAuthenticator, nkeys, usernamePasswordAuthenticator } from '@nats-io/transport-node';
import { NatsServer, natsSkip } from '../../test/nats-server.js';
import { ConfigError } from '../errors.js';
import { createCertificates } from '../security/certificate-authority.js';
import { JetStreamControlStore } from './jetstream-control-store.js';
import { natsAccessFrom, type NatsAccess } from './nats-access.js';

const tmp = mkdtempSync(join(tmpdir(), 'harmonium-nats-access-'));

/** Opens the store, writes and reads back one job record, closes it. */
let trips = 0;
async function roundTrip(access: NatsAccess): Promise<void> {
  const store = await JetStreamControlStore.open(access);
  try {
    const id = `j${++trips}`;
    await store.putJob(id, '{"x":1}', 0);
    const jobs = await store.loadJobs();
    assert.equal(jobs.find((j) => j.key.endsWith(id))?.value, '{"x":1}');
  } finally {
    await store.close();
  }
}

async function refused(access: NatsAccess, pattern: RegExp): Promise<void> {
  await assert.rejects(JetStreamControlStore.open(access), (err: Error) => {
    assert.match(err.message, pattern);
    return true;
  });
}

describe('NATS access', { skip: natsSkip }, () => {
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('user and password from a creds file', async () => {
    const nats = await NatsServer.start({
      args: ['--user', 'harmonium', '--pass', 's3cret-pass'],
      probe: { authenticator: usernamePasswordAuthenticator('harmonium', 's3cret-pass') },
    });
    try {
      const creds = join(tmp, 'user.creds');
      writeFileSync(creds, 'harmonium:s3cret-pass\n');
      await roundTrip(natsAccessFrom(nats.url, { natsCreds: creds }, {}));
      // The environment names it too.
      await roundTrip(natsAccessFrom(nats.url, {}, { HARMONIUM_NATS_CREDS: creds }));
      await refused({ servers: nats.url }, /cannot connect to NATS at .*(Authorization|AUTHORIZATION|auth)/i);
      writeFileSync(creds, 'harmonium:wrong\n');
      await refused({ servers: nats.url, credsFile: creds }, /cannot connect to NATS/);
    } finally {
      await nats.stop();
    }
  });

  it('an nkey seed file', async () => {
    const user = nkeys.createUser();
    const config = join(tmp, 'nkey.conf');
    writeFileSync(config, `authorization { users = [ { nkey: ${user.getPublicKey()} } ] }\n`);
    const seed = new TextDecoder().decode(user.getSeed());
    const nats = await NatsServer.start({
      args: ['-c', config],
      probe: { authenticator: nkeyAuthenticator(user.getSeed()) },
    });
    try {
      const seedFile = join(tmp, 'user.nk');
      writeFileSync(seedFile, `${seed}\n`);
      await roundTrip({ servers: nats.url, credsFile: seedFile });
      await refused({ servers: nats.url }, /cannot connect to NATS/);
    } finally {
      await nats.stop();
    }
  });

  it('TLS with a client certificate from --nats-tls-dir', async () => {
    const dir = join(tmp, 'tls');
    await createCertificates(dir);
    const file = (n: string): string => join(dir, n);
    const nats = await NatsServer.start({
      args: [
        '--tls',
        '--tlscert',
        file('tls.crt'),
        '--tlskey',
        file('tls.key'),
        '--tlscacert',
        file('ca.crt'),
        '--tlsverify',
      ],
      probe: { tls: { caFile: file('ca.crt'), certFile: file('tls.crt'), keyFile: file('tls.key') } },
    });
    try {
      await roundTrip({ servers: nats.url, tlsDir: dir });
      await refused({ servers: nats.url }, /cannot connect to NATS/);
    } finally {
      await nats.stop();
    }
  });

  it('a creds file of no known form, or a TLS dir without its CA, is a ConfigError naming the flag', async () => {
    const bad = join(tmp, 'bad.creds');
    writeFileSync(bad, 'just-a-word\n');
    const named = (field: string) => (err: unknown) => err instanceof ConfigError && err.field === field;
    await assert.rejects(
      JetStreamControlStore.open({ servers: 'nats://127.0.0.1:1', credsFile: bad }),
      named('nats-creds'),
    );
    await assert.rejects(
      JetStreamControlStore.open({ servers: 'nats://127.0.0.1:1', tlsDir: tmp }),
      named('nats-tls-dir'),
    );
  });
});
