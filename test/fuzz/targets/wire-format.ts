/**
 * Fuzz target: decodeLinkMessage on one received Link message, and forwardSegment on a decoded
 * segment (it rewrites the header in place, in front of the payload). Inputs are encodeHello,
 * encodeAbort and encodeSegment messages, mutated (inflated length varints among them).
 */
import assert from 'node:assert/strict';

import type { CallSignature } from '../../../core/collective/ring-links.js';
import {
  decodeLinkMessage,
  encodeAbort,
  encodeHello,
  encodeSegment,
  forwardSegment,
} from '../../../core/collective/wire-format.js';
import type { FuzzTarget } from '../fuzz-target.js';
import { mutatedBytes } from '../mutate.js';

const origin = { jobId: 'job-1', generation: 3, senderRank: 1 };
const allreduce: CallSignature = {
  tag: 2 ** 40 + 1,
  kind: 'allreduce',
  op: 'avg',
  root: 0,
  length: 1000,
  wire: 'float32',
  interleave: 0,
};
const barrier: CallSignature = {
  tag: 2,
  kind: 'barrier',
  op: null,
  root: 0,
  length: 0,
  wire: 'float32',
  interleave: 0,
};

/** The LinkMessage fuzz target. */
export const wireFormatTarget: FuzzTarget = {
  name: 'wire-format',
  seeds: () => [
    encodeHello({
      jobId: 'job-1',
      generation: 3,
      worldSize: 4,
      senderRank: 1,
      receiverRank: 2,
      waitMs: 30_000,
      secret: '9f86d081884c7d659a2feaa0c55ad015',
    }),
    encodeAbort({ senderRank: 1, reason: 'link', faultyRank: 2, message: 'link with rank 2 broke' }),
    encodeAbort({ senderRank: 0, reason: 'closed', faultyRank: null, message: '' }),
    encodeSegment(
      origin,
      allreduce,
      5,
      2,
      Float32Array.from({ length: 25 }, (_, i) => i / 3),
    ),
    encodeSegment(origin, barrier, 0, 0, new Float32Array(0)),
    // 16-bit payloads: the dtype field, and data a whole number of 2-byte values.
    encodeSegment(
      origin,
      { ...allreduce, wire: 'bf16' },
      1,
      0,
      Float32Array.from({ length: 25 }, (_, i) => i - 12),
    ),
    encodeSegment(
      origin,
      { ...allreduce, wire: 'fp16' },
      1,
      1,
      Float32Array.from({ length: 7 }, (_, i) => i / 8),
    ),
  ],
  arbitrary: (seeds) => mutatedBytes(seeds),
  run: (input) => {
    // As grpc-js hands it over: a view 5 bytes into a fresh frame, so the payload may be in place.
    const frame = Buffer.alloc(input.length + 5);
    frame.set(input, 5);
    const message = decodeLinkMessage(frame.subarray(5));
    if (message.type !== 'segment') return message;
    const s = message.segment;
    const before = Float32Array.from(s.data);
    const forwarded = forwardSegment(s, s, s.step + 1, s.index, s.data);
    if (forwarded !== null) {
      const again = decodeLinkMessage(forwarded);
      assert.equal(again.type, 'segment');
      assert.deepEqual(again.segment.data, before, 'forwarding changed the payload');
    }
    return message;
  },
};
