import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSync, type MethodDefinition } from '@grpc/proto-loader';

import { LINK_METHOD_PATH } from './grpc-link-service.js';
import type { CallSignature } from './ring-links.js';
import { roundToWire } from './wire-dtype.js';
import {
  WireFormatError,
  decodeLinkMessage,
  encodeAbort,
  encodeHello,
  encodeSegment,
  forwardSegment,
  type LinkMessage,
} from './wire-format.js';

// protobufjs, reading the .proto itself, is the reference the hand-written codec must agree with.
const protoFile = fileURLToPath(new URL('../../proto/harmonium/v1/collective.proto', import.meta.url));
const definition = loadSync(protoFile, { longs: Number, enums: String, defaults: true, oneofs: true });
const link = (definition['harmonium.v1.Collective'] as Record<string, MethodDefinition<object, object>>)[
  'Link'
]!;
const reference = {
  encode: (message: object): Buffer => link.requestSerialize(message),
  decode: (bytes: Buffer): Record<string, unknown> =>
    link.responseDeserialize(bytes) as Record<string, unknown>,
};

/** What grpc-js hands a deserializer: the message 5 bytes into a fresh frame buffer. */
function asReceived(message: Buffer): Buffer {
  const frame = Buffer.alloc(message.length + 5);
  message.copy(frame, 5);
  return frame.subarray(5);
}

function segmentOf(m: LinkMessage) {
  assert.equal(m.type, 'segment');
  return (m as Extract<LinkMessage, { type: 'segment' }>).segment;
}

test('the Link method path and streaming flags match the .proto', () => {
  assert.equal(link.path, LINK_METHOD_PATH);
  assert.equal(link.requestStream, true);
  assert.equal(link.responseStream, true);
});

test('encodeSegment writes a LinkSegment protobufjs reads back', () => {
  const call: CallSignature = {
    tag: 2 ** 40 + 3,
    kind: 'allreduce',
    op: 'avg',
    root: 0,
    length: 1001,
    wire: 'float32',
    interleave: 2 ** 40 + 5,
  };
  const payload = Float32Array.from({ length: 251 }, (_, i) => i / 3 - 40);
  const bytes = encodeSegment({ jobId: 'job-ü', generation: 7, senderRank: 4 }, call, 5, 2, payload);
  const m = reference.decode(bytes);
  assert.equal(m['body'], 'segment');
  const s = m['segment'] as Record<string, unknown>;
  assert.deepEqual(
    { ...s, padding: undefined, data: undefined },
    {
      jobId: 'job-ü',
      generation: 7,
      senderRank: 4,
      tag: 2 ** 40 + 3,
      kind: 'CALL_KIND_ALLREDUCE',
      op: 'REDUCE_OP_AVG',
      root: 0,
      length: 1001,
      step: 5,
      index: 2,
      dtype: 'WIRE_DTYPE_FLOAT32',
      interleave: 2 ** 40 + 5,
      padding: undefined,
      data: undefined,
    },
  );
  assert.deepEqual(s['data'], Buffer.from(payload.buffer));
});

test('a 16-bit segment carries 2 bytes a value, and both codecs read each other', () => {
  const payload = Float32Array.of(1, -2.5, 0.333251953125, 65504, 2 ** -24, 0);
  for (const [wire, name] of [
    ['bf16', 'WIRE_DTYPE_BF16'],
    ['fp16', 'WIRE_DTYPE_FP16'],
  ] as const) {
    const call: CallSignature = {
      tag: 4,
      kind: 'allreduce',
      op: 'sum',
      root: 0,
      length: 6,
      wire,
      interleave: 0,
    };
    const rounded = payload.slice();
    roundToWire(rounded, wire);
    const bytes = encodeSegment({ jobId: 'j', generation: 1, senderRank: 0 }, call, 0, 0, rounded);
    const s = reference.decode(bytes)['segment'] as Record<string, unknown>;
    assert.equal(s['dtype'], name);
    assert.equal((s['data'] as Buffer).length, 12);
    const mine = segmentOf(decodeLinkMessage(asReceived(bytes)));
    assert.equal(mine.wire, wire);
    assert.deepEqual([...mine.data], [...rounded], `${wire} comes back as the rounded values`);
    const theirs = segmentOf(
      decodeLinkMessage(
        reference.encode({ segment: { kind: 'CALL_KIND_ALLREDUCE', dtype: name, data: s['data'] } }),
      ),
    );
    assert.deepEqual([...theirs.data], [...rounded]);
  }
  assert.throws(
    () =>
      decodeLinkMessage(
        reference.encode({
          segment: { kind: 'CALL_KIND_ALLREDUCE', dtype: 'WIRE_DTYPE_BF16', data: Buffer.alloc(3) },
        }),
      ),
    /data of 3 bytes is not a whole number of bf16 values/,
  );
  const unknown = Buffer.from(
    encodeSegment(
      { jobId: 'j', generation: 1, senderRank: 0 },
      { tag: 4, kind: 'allreduce', op: 'sum', root: 0, length: 1, wire: 'bf16', interleave: 0 },
      0,
      0,
      Float32Array.of(1),
    ),
  );
  // The dtype code (field 11, varint) sits just before the padding (field 14): make it 7.
  unknown[unknown.indexOf(Buffer.from([11 << 3, 1])) + 1] = 7;
  assert.throws(() => decodeLinkMessage(unknown), /unknown wire dtype 7/);
});

test('decodeLinkMessage reads a LinkSegment written by protobufjs, defaults omitted', () => {
  const data = Float32Array.from([1.5, -2, 3e-8]);
  const bytes = reference.encode({
    segment: {
      jobId: 'j',
      generation: 1,
      tag: 9,
      kind: 'CALL_KIND_BROADCAST',
      root: 2,
      length: 3,
      data: Buffer.from(data.buffer),
    },
  });
  const s = segmentOf(decodeLinkMessage(bytes));
  assert.deepEqual(
    { ...s, data: [...s.data] },
    {
      jobId: 'j',
      generation: 1,
      senderRank: 0,
      tag: 9,
      kind: 'broadcast',
      op: null,
      root: 2,
      length: 3,
      wire: 'float32',
      interleave: 0,
      step: 0,
      index: 0,
      data: [...data],
    },
  );
});

test('the interleave field (12) agrees with protobufjs both ways and is written only when set', () => {
  const origin = { jobId: 'j', generation: 1, senderRank: 0 };
  for (const interleave of [0, 1, 256, 2 ** 53 - 1]) {
    const call: CallSignature = {
      tag: 3,
      kind: 'allreduce',
      op: 'avg',
      root: 0,
      length: 1000,
      wire: 'bf16',
      interleave,
    };
    const bytes = encodeSegment(origin, call, 1, 2, Float32Array.of(1, 2));
    const s = reference.decode(bytes)['segment'] as Record<string, unknown>;
    assert.equal(s['interleave'], interleave);
    assert.equal(segmentOf(decodeLinkMessage(asReceived(bytes))).interleave, interleave);
    const theirs = reference.encode({ segment: { kind: 'CALL_KIND_ALLREDUCE', interleave } });
    assert.equal(segmentOf(decodeLinkMessage(theirs)).interleave, interleave);
  }
  // As for dtype, the default is left out, so contiguous calls keep their old bytes. No other byte
  // of this message can be the field's key (12 << 3).
  const barrier: CallSignature = {
    tag: 3,
    kind: 'barrier',
    op: null,
    root: 0,
    length: 0,
    wire: 'float32',
    interleave: 0,
  };
  assert.ok(!encodeSegment(origin, barrier, 0, 0, new Float32Array(0)).includes(12 << 3));
  assert.throws(
    () =>
      decodeLinkMessage(
        reference.encode({ segment: { kind: 'CALL_KIND_ALLREDUCE', interleave: '18446744073709551615' } }),
      ),
    /interleave: .* is past 2\^53 - 1/,
  );
});

test('a received segment payload is a view of the receive buffer, not a copy', () => {
  const call: CallSignature = {
    tag: 1,
    kind: 'barrier',
    op: null,
    root: 0,
    length: 0,
    wire: 'float32',
    interleave: 0,
  };
  for (const jobId of ['a', 'ab', 'abc', 'abcd']) {
    for (const floats of [0, 1, 40, 70_000]) {
      const received = asReceived(
        encodeSegment({ jobId, generation: 3, senderRank: 1 }, call, 0, 0, new Float32Array(floats).fill(2)),
      );
      const s = segmentOf(decodeLinkMessage(received));
      assert.equal(s.data.length, floats);
      assert.ok(s.data.every((x) => x === 2));
      if (floats > 0)
        assert.equal(s.data.buffer, received.buffer, `copied for job id ${jobId}, ${floats} floats`);
    }
  }
  // Misaligned input still decodes, through a copy.
  const odd = Buffer.concat([
    Buffer.alloc(1),
    encodeSegment({ jobId: 'x', generation: 0, senderRank: 0 }, call, 0, 0, Float32Array.of(5)),
  ]);
  assert.deepEqual([...segmentOf(decodeLinkMessage(odd.subarray(1))).data], [5]);
});

test('forwardSegment rewrites a received segment in place for the next hop', () => {
  const call: CallSignature = {
    tag: 7,
    kind: 'allreduce',
    op: 'sum',
    root: 0,
    length: 5000,
    wire: 'float32',
    interleave: 100,
  };
  const payload = Float32Array.from({ length: 1250 }, (_, i) => i);
  const sent = encodeSegment({ jobId: 'j', generation: 2, senderRank: 126 }, call, 126, 3, payload);
  const received = segmentOf(decodeLinkMessage(asReceived(sent)));
  received.data[0] = -1;
  // Rank and step grow from one varint byte to two: the encoder's slack absorbs it.
  const forwarded = forwardSegment(
    { jobId: 'j', generation: 2, senderRank: 127 + 1 },
    call,
    127 + 1,
    3,
    received.data,
  );
  assert.ok(forwarded !== null);
  assert.equal(forwarded.buffer, received.data.buffer, 'the payload was copied');
  const again = segmentOf(decodeLinkMessage(asReceived(forwarded)));
  assert.deepEqual(
    { ...again, data: undefined },
    { ...received, senderRank: 128, step: 128, data: undefined },
  );
  assert.deepEqual([...again.data], [-1, ...payload.subarray(1)]);
  // Only the arrays decodeLinkMessage returned, and each once.
  assert.equal(forwardSegment({ jobId: 'j', generation: 2, senderRank: 0 }, call, 0, 3, received.data), null);
  assert.equal(forwardSegment({ jobId: 'j', generation: 2, senderRank: 0 }, call, 0, 3, payload), null);
});

test('LinkHello and LinkAbort agree with protobufjs both ways', () => {
  const hello = {
    jobId: 'job',
    generation: 12,
    worldSize: 5,
    senderRank: 3,
    receiverRank: 2,
    waitMs: 30_000,
    secret: '9f86d081884c7d659a2feaa0c55ad015',
  };
  assert.deepEqual(reference.decode(encodeHello(hello)), { hello, body: 'hello' });
  assert.deepEqual(decodeLinkMessage(reference.encode({ hello })), { type: 'hello', hello });

  for (const faultyRank of [null, 0, 4]) {
    const abort = { senderRank: 1, reason: 'link' as const, faultyRank, message: 'link with rank 0 broke' };
    const decoded = reference.decode(encodeAbort(abort))['abort'] as Record<string, unknown>;
    assert.equal(decoded['reason'], 'REASON_LINK');
    assert.equal(decoded['_faultyRank'], faultyRank === null ? undefined : 'faultyRank');
    const wire = {
      senderRank: 1,
      reason: 'REASON_LINK',
      message: abort.message,
      ...(faultyRank === null ? {} : { faultyRank }),
    };
    assert.deepEqual(decodeLinkMessage(reference.encode({ abort: wire })), { type: 'abort', abort });
  }
});

test('decodeLinkMessage rejects bytes that are not a LinkMessage', () => {
  assert.throws(() => decodeLinkMessage(Buffer.alloc(0)), WireFormatError);
  assert.throws(() => decodeLinkMessage(Buffer.from([0x12, 0x05, 0x0a])), WireFormatError);
  assert.throws(
    () =>
      decodeLinkMessage(
        reference.encode({ segment: { kind: 'CALL_KIND_ALLREDUCE', data: Buffer.alloc(3) } }),
      ),
    WireFormatError,
  );
  assert.throws(
    () => decodeLinkMessage(reference.encode({ segment: { kind: 'CALL_KIND_UNSPECIFIED' } })),
    WireFormatError,
  );
});
