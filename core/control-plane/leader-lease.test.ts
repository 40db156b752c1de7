/**
 * The leader lease over the in-memory store (the JetStream one's interface, same revision rules),
 * with a short ttl: one of two coordinators leads, the other stands by; a leader that stops
 * renewing is replaced after a ttl and learns it lost the lead on its next renewal; one that stops
 * gracefully hands the lease over at once; a standby that is stopped gives up without an error.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ClusterError } from '../errors.js';
import { LeaderLease } from './leader-lease.js';
import { MemoryControlStore } from './memory-control-store.js';

const TTL = 200;
const lease = (store: MemoryControlStore, holder: string): LeaderLease =>
  new LeaderLease(store, { holder, address: `${holder}:7070` }, { ttlMs: TTL });

describe('LeaderLease', () => {
  // The lease's own timers are unref'd (they must not keep a coordinator alive): hold the loop.
  let alive: NodeJS.Timeout;
  beforeEach(() => (alive = setInterval(() => undefined, 1000)));
  afterEach(() => clearInterval(alive));

  it('one leads, the other stands by; a leader that stops renewing is replaced after a ttl and is told so', async () => {
    const store = new MemoryControlStore();
    const a = lease(store, 'a');
    assert.equal(await a.acquire(), true);
    assert.ok(a.valid);
    const b = lease(store, 'b');
    let bLeads = false;
    const started = performance.now();
    const bAcquired = b.acquire().then((led) => (bLeads = led));
    await new Promise((r) => setTimeout(r, TTL / 2));
    assert.equal(bLeads, false, 'b stands by while the lease is fresh');
    assert.equal(b.leader?.holder, 'a');
    // a never renews (as if stopped): b takes over once the lease is a ttl old.
    await bAcquired;
    assert.equal(bLeads, true);
    assert.ok(performance.now() - started >= TTL, 'not before a whole ttl');
    await new Promise((r) => setTimeout(r, TTL));
    assert.equal(a.valid, false, 'a past its ttl does not count itself the leader');
    const lost = new Promise<ClusterError>((resolve) => a.keep(resolve));
    assert.equal((await lost).code, 'STALE_REVISION');
    assert.match((await lost).message, /coordinator a lost the lead/);
    await a.stop(false);
    await b.stop(false);
  });

  it('a leader that stops gracefully hands the lease over at once; a stopped standby gives up', async () => {
    const store = new MemoryControlStore();
    const a = lease(store, 'a');
    assert.equal(await a.acquire(), true);
    a.keep(() => assert.fail('a lost the lead'));
    const b = lease(store, 'b');
    const bAcquired = b.acquire();
    const c = lease(store, 'c');
    const cAcquired = c.acquire();
    await new Promise((r) => setTimeout(r, 3 * TTL));
    assert.equal(b.leader?.holder, 'a', 'renewed: still the leader after three ttls');
    const handedAt = performance.now();
    await a.stop(true);
    const first = await Promise.race([bAcquired.then(() => 'b'), cAcquired.then(() => 'c')]);
    assert.ok(performance.now() - handedAt < TTL, 'taken without waiting out a ttl');
    const standby = first === 'b' ? c : b;
    await standby.stop(false);
    assert.equal(await (first === 'b' ? cAcquired : bAcquired), false, 'the stopped standby gives up');
    await (first === 'b' ? b : c).stop(false);
  });

  it('a renewal whose reply arrives a ttl late (stopped with the write in flight) does not make the lease valid', async () => {
    const store = new MemoryControlStore();
    const a = lease(store, 'a');
    assert.equal(await a.acquire(), true);
    // The store applies the write at once; its reply reaches a only 1.5 ttl later.
    let delayed = false;
    let replied!: () => void;
    const reply = new Promise<void>((r) => (replied = r));
    const put = store.putLease.bind(store);
    store.putLease = async (value, revision) => {
      const revisionNow = await put(value, revision);
      if (!delayed) {
        delayed = true;
        await new Promise((r) => setTimeout(r, 1.5 * TTL));
        replied();
      }
      return revisionNow;
    };
    a.keep(() => undefined);
    try {
      await reply;
      await new Promise((r) => setImmediate(r));
      assert.equal(a.valid, false, 'valid for a ttl from when the renewal was sent, not from its reply');
    } finally {
      await a.stop(false);
    }
  });
});
