/**
 * Who may take a link slot on a collective endpoint: with TLS, only a peer whose certificate comes
 * from the same CA gets past the handshake (a plaintext or foreign-CA peer never links); and even
 * with a valid certificate, only a hello that carries the generation's link secret is attached,
 * whether it arrives before this rank joined (held) or after, and whatever generation or job it
 * names. Callers that invent job ids to fill the held-call room do not starve an expected peer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Metadata, status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { createCertificates } from '../security/certificate-authority.js';
import { ClusterCredentials } from '../security/cluster-credentials.js';
import { readTlsDir } from '../security/tls-dir.js';
import { CollectiveEndpoint } from './collective-endpoint.js';
import { CLIENT_OPTIONS, LINK_METHOD_PATH } from './grpc-link-service.js';
import { checkAllreduce, isCollectiveError } from './testing.js';
import { decodeLinkMessage, encodeHello, type LinkMessage } from './wire-format.js';

const SECRET = 'a'.repeat(32);
let dirs: string[] = [];
let cluster: ClusterCredentials;
let foreign: ClusterCredentials;
const opened: CollectiveEndpoint[] = [];

async function credentialsOf(): Promise<ClusterCredentials> {
  const dir = mkdtempSync(join(tmpdir(), 'harmonium-link-tls-'));
  dirs.push(dir);
  await createCertificates(dir);
  return ClusterCredentials.of(readTlsDir(dir), null);
}

async function endpoint(credentials: ClusterCredentials): Promise<CollectiveEndpoint> {
  const e = await CollectiveEndpoint.listen({ host: '127.0.0.1', port: 0, credentials });
  opened.push(e);
  return e;
}

/** A raw Link call on `address` that sends one hello; resolves with how the call ended. */
function intrude(
  address: string,
  credentials: ClusterCredentials,
  hello: { jobId: string; generation: number; secret: string; senderRank?: number },
  timeoutMs = 5_000,
): Promise<{ code: status; details: string; answered: boolean }> {
  const client = new Client(address, credentials.channelCredentials(), CLIENT_OPTIONS);
  const call: ClientDuplexStream<Buffer, LinkMessage> = client.makeBidiStreamRequest(
    LINK_METHOD_PATH,
    (b: Buffer) => b,
    decodeLinkMessage,
    new Metadata(),
    { deadline: new Date(Date.now() + timeoutMs) },
  );
  let answered = false;
  call.on('data', () => (answered = true));
  call.write(
    encodeHello({
      jobId: hello.jobId,
      generation: hello.generation,
      worldSize: 2,
      senderRank: hello.senderRank ?? 1,
      receiverRank: 0,
      waitMs: timeoutMs,
      secret: hello.secret,
    }),
  );
  return new Promise((resolve) => {
    call.on('error', (e: ServiceError) => {
      client.close();
      resolve({ code: e.code, details: e.details, answered });
    });
    call.on('end', () => {
      client.close();
      resolve({ code: status.OK, details: '', answered });
    });
  });
}

describe('link security', () => {
  before(async () => {
    cluster = await credentialsOf();
    foreign = await credentialsOf();
  });
  after(async () => {
    await Promise.all(opened.map((e) => e.close()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    dirs = [];
  });

  it('two ranks with certificates of one CA and the same secret all-reduce over mutual TLS', async () => {
    const [a, b] = [await endpoint(cluster), await endpoint(cluster)];
    const peers = [a.address, b.address];
    const groups = await Promise.all(
      [a, b].map((e, rank) =>
        e.join({ jobId: 'tls', generation: 1, rank, peers, timeoutMs: 10_000, linkSecret: SECRET }),
      ),
    );
    await checkAllreduce(groups, 100_003, 'sum', 0);
    await Promise.all(groups.map((g) => g.close()));
  });

  it('a plaintext peer and a peer of another CA never get past the handshake', async () => {
    const a = await endpoint(cluster);
    const plain = await intrude(
      a.address,
      ClusterCredentials.INSECURE,
      { jobId: 'x', generation: 1, secret: SECRET },
      2_000,
    );
    assert.equal(plain.answered, false);
    assert.ok(
      [status.UNAVAILABLE, status.DEADLINE_EXCEEDED].includes(plain.code),
      `${plain.code} ${plain.details}`,
    );
    const other = await intrude(a.address, foreign, { jobId: 'x', generation: 1, secret: SECRET }, 2_000);
    assert.equal(other.answered, false);
    assert.ok(
      [status.UNAVAILABLE, status.DEADLINE_EXCEEDED].includes(other.code),
      `${other.code} ${other.details}`,
    );
    // A rank of another CA that joins the group fails its join, naming the neighbour.
    const stranger = await endpoint(foreign);
    await assert.rejects(
      stranger.join({
        jobId: 'x',
        generation: 1,
        rank: 1,
        peers: [a.address, stranger.address],
        timeoutMs: 1_500,
        linkSecret: SECRET,
      }),
      isCollectiveError('COLLECTIVE_TIMEOUT', 0),
    );
  });

  it('a hello without the generation secret is refused, early or late, and the real peer links after it', async () => {
    const [a, b] = [await endpoint(cluster), await endpoint(cluster)];
    const peers = [a.address, b.address];
    a.expect('job');
    // Early: held until rank 0 joins, then refused when the secret is checked.
    const early = intrude(a.address, cluster, { jobId: 'job', generation: 1, secret: 'b'.repeat(32) });
    const ranks = [
      a.join({ jobId: 'job', generation: 1, rank: 0, peers, timeoutMs: 10_000, linkSecret: SECRET }),
    ];
    const refusedEarly = await early;
    assert.equal(refusedEarly.code, status.PERMISSION_DENIED, refusedEarly.details);
    assert.equal(refusedEarly.answered, false, 'the refused caller was sent nothing');
    // Late: rank 0 has joined and waits for its successor.
    for (const secret of ['', SECRET.slice(1), `${SECRET}x`]) {
      const late = await intrude(a.address, cluster, { jobId: 'job', generation: 1, secret });
      assert.equal(late.code, status.PERMISSION_DENIED, `secret ${JSON.stringify(secret)}: ${late.details}`);
    }
    // A member of another generation, with its own secret, takes nothing either.
    const future = intrude(
      a.address,
      cluster,
      { jobId: 'job', generation: 2, secret: 'c'.repeat(32) },
      1_500,
    );
    ranks.push(
      b.join({ jobId: 'job', generation: 1, rank: 1, peers, timeoutMs: 10_000, linkSecret: SECRET }),
    );
    const groups = await Promise.all(ranks);
    await checkAllreduce(groups, 1001, 'avg', 1);
    assert.equal((await future).answered, false);
    await Promise.all(groups.map((g) => g.close()));
    // A rank that joins with the wrong secret fails its join: its predecessor refused it.
    const [c, d] = [await endpoint(cluster), await endpoint(cluster)];
    const pair = [c.address, d.address];
    const real = c.join({
      jobId: 'k',
      generation: 1,
      rank: 0,
      peers: pair,
      timeoutMs: 2_000,
      linkSecret: SECRET,
    });
    real.catch(() => undefined);
    await assert.rejects(
      d.join({
        jobId: 'k',
        generation: 1,
        rank: 1,
        peers: pair,
        timeoutMs: 2_000,
        linkSecret: 'd'.repeat(32),
      }),
      isCollectiveError(
        'COLLECTIVE_MISMATCH',
        0,
        /refused the link: the hello does not carry this generation's link secret/,
      ),
    );
  });

  it('calls of invented jobs that fill the held room make way for an expected peer', async () => {
    const [a, b] = [await endpoint(cluster), await endpoint(cluster)];
    const peers = [a.address, b.address];
    a.expect('real');
    const flood = Array.from({ length: 70 }, (_, i) =>
      intrude(a.address, cluster, { jobId: `invented-${i}`, generation: 1, secret: '' }, 8_000),
    );
    // Nine calls of one invented job: past the per-job room.
    const oneJob = Array.from({ length: 9 }, () =>
      intrude(a.address, cluster, { jobId: 'invented-0', generation: 1, secret: '' }, 8_000),
    );
    await new Promise((r) => setTimeout(r, 500));
    // The expected peer links early (rank 0 has not joined yet), then rank 0 joins.
    const rank1 = b.join({
      jobId: 'real',
      generation: 1,
      rank: 1,
      peers,
      timeoutMs: 10_000,
      linkSecret: SECRET,
    });
    await new Promise((r) => setTimeout(r, 300));
    const rank0 = a.join({
      jobId: 'real',
      generation: 1,
      rank: 0,
      peers,
      timeoutMs: 10_000,
      linkSecret: SECRET,
    });
    const groups = await Promise.all([rank0, rank1]);
    await checkAllreduce(groups, 1001, 'sum', 2);
    await Promise.all(groups.map((g) => g.close()));
    await a.close();
    const ends = await Promise.all([...flood, ...oneJob]);
    assert.ok(
      ends.every((e) => !e.answered),
      'no invented call was attached',
    );
    assert.ok(
      ends.filter((e) => e.code === status.RESOURCE_EXHAUSTED).length >= 7,
      'the room overflowed and the per-job cap refused',
    );
  });
});
