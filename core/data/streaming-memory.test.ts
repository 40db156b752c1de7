/**
 * Memory stays flat as a streamed corpus grows: a child process streaming 10x the shards over HTTP
 * peaks within 10 % of one streaming 1x (one shard and the next in memory, whatever the corpus).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';

import { packShards } from './shard-writer.js';
import { startFileServer } from './testing.js';

const SHARD = 200;
const tmp = mkdtempSync(join(tmpdir(), 'harmonium-stream-memory-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A corpus of `shards` shards of SHARD 64x64 grey images of noise (about 800 KiB a shard). */
async function corpus(name: string, shards: number): Promise<string> {
  const count = shards * SHARD;
  const dir = join(tmp, name);
  const pixels = new Uint8Array(count * 64 * 64);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (Math.imul(i, 2654435761) >>> 11) & 0xff;
  await packShards(
    { name, shape: { height: 64, width: 64, channels: 1 }, count, pixels, labels: null },
    dir,
    SHARD,
  );
  return dir;
}

/** The peak resident set (KiB) of a child streaming the corpus served at `url`. */
function streamPeak(url: string): Promise<{ peakKiB: number; images: number }> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', join(import.meta.dirname, 'testing-stream-process.ts'), url],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`the streaming child exited with ${code}: ${out}`));
      else resolve(JSON.parse(out.trim()) as { peakKiB: number; images: number });
    });
  });
}

it('streaming 10x the shards over HTTP peaks within 10 % of the resident memory of 1x', async (t) => {
  const small = await startFileServer(await corpus('small', 3));
  const large = await startFileServer(await corpus('large', 30));
  try {
    const one = await streamPeak(small.url);
    const ten = await streamPeak(large.url);
    assert.equal(one.images, 3 * SHARD);
    assert.equal(ten.images, 30 * SHARD);
    t.diagnostic(
      `peak resident ${one.peakKiB} KiB for 3 shards, ${ten.peakKiB} KiB for 30 (${(30 * SHARD * 4096) >> 20} MiB of pixels)`,
    );
    assert.ok(ten.peakKiB <= 1.1 * one.peakKiB, `${ten.peakKiB} KiB against ${one.peakKiB} KiB`);
  } finally {
    await small.close();
    await large.close();
  }
});
