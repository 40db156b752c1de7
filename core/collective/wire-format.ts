/**
 * The messages of `proto/harmonium/v1/collective.proto` and their protobuf wire encoding, written by
 * hand: a tensor segment is encoded straight into one Buffer (one copy of the payload) and decoded
 * into a Float32Array view of the received bytes where alignment allows (no copy). The interfaces
 * below mirror the proto; `wire-format.test.ts` checks both directions against protobufjs reading
 * the .proto itself, so the two cannot drift apart silently.
 */
import { endianness } from 'node:os';
import { HarmoniumError } from '../errors.js';
import type { ReduceOp } from './process-group.js';
import type { CallKind, CallSignature } from './ring-links.js';
import { MAX_SEGMENT_BYTES } from './segment-layout.js';
import { packWire, unpackWire, wireBytes, type WireDtype } from './wire-dtype.js';

// Float32Array uses the host's byte order and the wire is little-endian.
if (endianness() !== 'LE') throw new Error('core/collective supports little-endian hosts only');

/** harmonium.v1.LinkHello */
export interface LinkHello {
  readonly jobId: string;
  readonly generation: number;
  readonly worldSize: number;
  readonly senderRank: number;
  readonly receiverRank: number;
  readonly waitMs: number;
  /** The generation's link secret from the coordinator's Assignment ('' when it gave none). */
  readonly secret: string;
}

/** Who sends a segment: the fields of harmonium.v1.LinkSegment that are fixed for a group. */
export interface SegmentOrigin {
  readonly jobId: string;
  readonly generation: number;
  readonly senderRank: number;
}

/** harmonium.v1.LinkSegment */
export interface LinkSegment extends SegmentOrigin, CallSignature {
  readonly step: number;
  readonly index: number;
  readonly data: Float32Array;
}

export type AbortReason = 'closed' | 'link';

/** harmonium.v1.LinkAbort */
export interface LinkAbort {
  readonly senderRank: number;
  readonly reason: AbortReason;
  readonly faultyRank: number | null;
  readonly message: string;
}

/** harmonium.v1.LinkMessage: exactly one of its bodies. */
export type LinkMessage =
  | { readonly type: 'hello'; readonly hello: LinkHello }
  | { readonly type: 'segment'; readonly segment: LinkSegment }
  | { readonly type: 'abort'; readonly abort: LinkAbort };

/** Bytes that did not parse as a LinkMessage: a DATA_FORMAT error naming the field at fault. */
export class WireFormatError extends HarmoniumError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATA_FORMAT', message, options);
  }
}

const KIND_CODES: Record<CallKind, number> = { allreduce: 1, broadcast: 2, barrier: 3 };
const KINDS: readonly (CallKind | undefined)[] = [undefined, 'allreduce', 'broadcast', 'barrier'];
const OP_CODES: Record<ReduceOp, number> = { sum: 1, avg: 2, max: 3, min: 4 };
const OPS: readonly (ReduceOp | null)[] = [null, 'sum', 'avg', 'max', 'min'];
const DTYPE_CODES: Record<WireDtype, number> = { float32: 0, bf16: 1, fp16: 2 };
const DTYPES: readonly (WireDtype | undefined)[] = ['float32', 'bf16', 'fp16'];
const REASON_CODES: Record<AbortReason, number> = { closed: 1, link: 2 };
const REASONS: readonly (AbortReason | undefined)[] = [undefined, 'closed', 'link'];

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

function key(field: number, wireType: number): number {
  return (field << 3) | wireType;
}

function varintSize(value: number): number {
  let size = 1;
  // Division, not shifts: values go up to 2^53 (generations, tags, lengths).
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Writes fields into a Buffer sized beforehand. */
class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(value: number): void {
    const buf = this.buf;
    while (value >= 128) {
      buf[this.pos++] = (value % 128) | 128;
      value = Math.floor(value / 128);
    }
    buf[this.pos++] = value;
  }

  uint(field: number, value: number): void {
    this.varint(key(field, WIRE_VARINT));
    this.varint(value);
  }

  bytesHeader(field: number, length: number): void {
    this.varint(key(field, WIRE_LEN));
    this.varint(length);
  }

  string(field: number, value: string, byteLength: number): void {
    this.bytesHeader(field, byteLength);
    this.pos += this.buf.write(value, this.pos, byteLength, 'utf8');
  }
}

function uintSize(field: number, value: number): number {
  return varintSize(key(field, WIRE_VARINT)) + varintSize(value);
}

function lenSize(field: number, length: number): number {
  return varintSize(key(field, WIRE_LEN)) + varintSize(length) + length;
}

/** Wraps an encoded body as field `field` of a LinkMessage. */
function wrap(field: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(lenSize(field, body.length));
  const w = new Writer(out);
  w.bytesHeader(field, body.length);
  body.copy(out, w.pos);
  return out;
}

export function encodeHello(hello: LinkHello): Buffer {
  const jobBytes = Buffer.byteLength(hello.jobId);
  const secretBytes = Buffer.byteLength(hello.secret);
  const body = Buffer.allocUnsafe(
    lenSize(1, jobBytes) +
      uintSize(2, hello.generation) +
      uintSize(3, hello.worldSize) +
      uintSize(4, hello.senderRank) +
      uintSize(5, hello.receiverRank) +
      uintSize(6, hello.waitMs) +
      (secretBytes > 0 ? lenSize(7, secretBytes) : 0),
  );
  const w = new Writer(body);
  w.string(1, hello.jobId, jobBytes);
  w.uint(2, hello.generation);
  w.uint(3, hello.worldSize);
  w.uint(4, hello.senderRank);
  w.uint(5, hello.receiverRank);
  w.uint(6, hello.waitMs);
  if (secretBytes > 0) w.string(7, hello.secret, secretBytes);
  return wrap(1, body);
}

export function encodeAbort(abort: LinkAbort): Buffer {
  const messageBytes = Buffer.byteLength(abort.message);
  const body = Buffer.allocUnsafe(
    uintSize(1, abort.senderRank) +
      uintSize(2, REASON_CODES[abort.reason]) +
      (abort.faultyRank === null ? 0 : uintSize(3, abort.faultyRank)) +
      lenSize(4, messageBytes),
  );
  const w = new Writer(body);
  w.uint(1, abort.senderRank);
  w.uint(2, REASON_CODES[abort.reason]);
  if (abort.faultyRank !== null) w.uint(3, abort.faultyRank);
  w.string(4, abort.message, messageBytes);
  return wrap(3, body);
}

/**
 * grpc-js hands a deserializer the message as a view 5 bytes (the gRPC frame prefix) into a fresh
 * allocation, so a payload at message offset 3 mod 4 lands 4-byte aligned and can be read in place.
 */
const ALIGN_REMAINDER = 3;

/**
 * Extra filler the encoder adds, so that a receiver forwarding the segment (in place, with its own
 * rank and the next step) has room for a header that grew by a varint byte or two.
 */
const FORWARD_SLACK = 4;

/** The payload views decodeLinkMessage returned without a copy, mapped to their message's start. */
const receivedInPlace = new WeakMap<Float32Array, number>();

/** A segment's header fields, measured once and written for a chosen padding. */
class SegmentHeaderWriter {
  private readonly jobBytes: number;
  private readonly fixed: number;
  private readonly dataFieldHeader: number;

  constructor(
    private readonly origin: SegmentOrigin,
    private readonly call: CallSignature,
    private readonly step: number,
    private readonly index: number,
    private readonly dataBytes: number,
  ) {
    this.jobBytes = Buffer.byteLength(origin.jobId);
    this.fixed =
      lenSize(1, this.jobBytes) +
      uintSize(2, origin.generation) +
      uintSize(3, origin.senderRank) +
      uintSize(4, call.tag) +
      uintSize(5, KIND_CODES[call.kind]) +
      uintSize(6, call.op === null ? 0 : OP_CODES[call.op]) +
      uintSize(7, call.root) +
      uintSize(8, call.length) +
      uintSize(9, step) +
      uintSize(10, index) +
      (call.wire === 'float32' ? 0 : uintSize(11, DTYPE_CODES[call.wire])) +
      (call.interleave === 0 ? 0 : uintSize(12, call.interleave));
    this.dataFieldHeader = varintSize(key(15, WIRE_LEN)) + varintSize(dataBytes);
  }

  /** Bytes from the LinkMessage's start to the payload with `padding` filler bytes. */
  headerBytes(padding: number): number {
    const body = this.bodyBytes(padding);
    return varintSize(key(2, WIRE_LEN)) + varintSize(body) + body - this.dataBytes;
  }

  /** Writes the header at `at`; the payload goes at `at + headerBytes(padding)`. */
  write(out: Buffer, at: number, padding: number): void {
    const { origin, call } = this;
    const w = new Writer(out);
    w.pos = at;
    w.bytesHeader(2, this.bodyBytes(padding));
    w.string(1, origin.jobId, this.jobBytes);
    w.uint(2, origin.generation);
    w.uint(3, origin.senderRank);
    w.uint(4, call.tag);
    w.uint(5, KIND_CODES[call.kind]);
    w.uint(6, call.op === null ? 0 : OP_CODES[call.op]);
    w.uint(7, call.root);
    w.uint(8, call.length);
    w.uint(9, this.step);
    w.uint(10, this.index);
    if (call.wire !== 'float32') w.uint(11, DTYPE_CODES[call.wire]);
    if (call.interleave !== 0) w.uint(12, call.interleave);
    w.bytesHeader(14, padding);
    out.fill(0, w.pos, w.pos + padding);
    w.pos += padding;
    w.bytesHeader(15, this.dataBytes);
  }

  private bodyBytes(padding: number): number {
    return this.fixed + lenSize(14, padding) + this.dataFieldHeader + this.dataBytes;
  }
}

/**
 * Encodes a LinkMessage carrying one segment into a buffer from `allocate`: header fields,
 * padding (so the payload lands aligned at the receiver, plus slack for forwarding), payload in
 * the call's wire dtype.
 */
export function encodeSegment(
  origin: SegmentOrigin,
  call: CallSignature,
  step: number,
  index: number,
  payload: Float32Array,
  allocate: (bytes: number) => Buffer = Buffer.allocUnsafe,
): Buffer {
  const dataBytes = payload.length * wireBytes(call.wire);
  const header = new SegmentHeaderWriter(origin, call, step, index, dataBytes);
  let padding = FORWARD_SLACK;
  // float32 lands aligned at the receiver, to be read in place; 16-bit values are widened into a
  // new array there anyway, so they are aligned here instead, to be written in place.
  if (call.wire === 'float32') while (header.headerBytes(padding) % 4 !== ALIGN_REMAINDER) padding++;
  else while (header.headerBytes(padding) % 2 !== 0) padding++;
  const headerBytes = header.headerBytes(padding);
  const out = allocate(headerBytes + dataBytes);
  header.write(out, 0, padding);
  packWire(payload, call.wire, out, headerBytes);
  return out;
}

/**
 * Re-encodes a segment this process received, for sending on: when `payload` is a view that
 * decodeLinkMessage returned, the new header is written over the old one in front of it and the
 * message is returned without copying the payload (which therefore keeps its alignment). Returns
 * null when `payload` is not such a view or the new header does not fit.
 */
export function forwardSegment(
  origin: SegmentOrigin,
  call: CallSignature,
  step: number,
  index: number,
  payload: Float32Array,
): Buffer | null {
  const start = receivedInPlace.get(payload);
  // Only float32 payloads are received in place; a 16-bit one was widened into a new array.
  if (start === undefined || call.wire !== 'float32') return null;
  receivedInPlace.delete(payload);
  const room = payload.byteOffset - start;
  const header = new SegmentHeaderWriter(origin, call, step, index, payload.byteLength);
  for (let padding = 0; header.headerBytes(padding) <= room; padding++) {
    if (header.headerBytes(padding) === room) {
      const out = Buffer.from(payload.buffer, start, room + payload.byteLength);
      header.write(out, 0, padding);
      return out;
    }
  }
  return null;
}

/** The largest field number protobuf allows; a key beyond it is not a protobuf key. */
const MAX_FIELD = 2 ** 29 - 1;

/**
 * Reads fields of one message (`what`, named in errors) between `pos` and `end`. Every length is
 * checked against the bytes left before anything is sliced, and every number against the range of
 * its proto type, so a decoded value is never larger than the message it came from.
 */
class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
    readonly what: string,
  ) {}

  done(): boolean {
    return this.pos >= this.end;
  }

  fail(message: string): never {
    throw new WireFormatError(`${this.what}: ${message}`);
  }

  /** A varint's value, exact up to 2^53 and rounded beyond: every caller checks its range. */
  private rawVarint(field: string): number {
    let value = 0;
    let scale = 1;
    for (let bytes = 1; ; bytes++) {
      if (this.pos >= this.end) this.fail(`${field}: truncated varint`);
      const byte = this.buf[this.pos++]!;
      value += (byte & 127) * scale;
      if (byte < 128) return value;
      if (bytes === 10) this.fail(`${field}: varint longer than 10 bytes`);
      scale *= 128;
    }
  }

  /** The next field's key: field number and wire type. */
  key(): number {
    const k = this.rawVarint('field key');
    // Callers split the key with `>> 3` and `& 7`, which would wrap a key past 32 bits.
    if (k > MAX_FIELD * 8 + 7 || k < 8) this.fail(`field key ${k} has no valid field number`);
    return k;
  }

  /** A uint64 field, refused past 2^53 - 1 where a JS number would no longer be exact. */
  uint64(field: string): number {
    const value = this.rawVarint(field);
    if (!Number.isSafeInteger(value)) this.fail(`${field}: ${value} is past 2^53 - 1`);
    return value;
  }

  /** A uint32 field. */
  uint32(field: string): number {
    const value = this.rawVarint(field);
    if (value > 0xffffffff) this.fail(`${field}: ${value} does not fit uint32`);
    return value;
  }

  /** An enum field's code; the caller maps it, unknown codes (a negative int32 is huge) included. */
  enumCode(field: string): number {
    return this.rawVarint(field);
  }

  /** Returns [start, end) of a length-delimited field's contents. */
  span(field: string): [number, number] {
    const length = this.rawVarint(field);
    if (length > this.end - this.pos) {
      this.fail(`${field}: length ${length} overruns the message (${this.end - this.pos} bytes left)`);
    }
    const start = this.pos;
    this.pos = start + length;
    return [start, this.pos];
  }

  string(field: string): string {
    const [start, end] = this.span(field);
    return this.buf.toString('utf8', start, end);
  }

  /** Skips the unknown field whose key is `key`. */
  skip(key: number): void {
    const wireType = key & 7;
    const field = `unknown field ${key >> 3}`;
    let fixed = 0;
    if (wireType === WIRE_VARINT) this.rawVarint(field);
    else if (wireType === WIRE_LEN) this.span(field);
    else if (wireType === WIRE_I64) fixed = 8;
    else if (wireType === WIRE_I32) fixed = 4;
    else this.fail(`${field}: unsupported wire type ${wireType}`);
    if (fixed > this.end - this.pos) this.fail(`${field}: overruns the message`);
    this.pos += fixed;
  }
}

function decodeHello(r: Reader): LinkHello {
  let jobId = '';
  let generation = 0;
  let worldSize = 0;
  let senderRank = 0;
  let receiverRank = 0;
  let waitMs = 0;
  let secret = '';
  while (!r.done()) {
    const k = r.key();
    switch (k) {
      case key(1, WIRE_LEN):
        jobId = r.string('job_id');
        break;
      case key(2, WIRE_VARINT):
        generation = r.uint64('generation');
        break;
      case key(3, WIRE_VARINT):
        worldSize = r.uint32('world_size');
        break;
      case key(4, WIRE_VARINT):
        senderRank = r.uint32('sender_rank');
        break;
      case key(5, WIRE_VARINT):
        receiverRank = r.uint32('receiver_rank');
        break;
      case key(6, WIRE_VARINT):
        waitMs = r.uint32('wait_ms');
        break;
      case key(7, WIRE_LEN):
        secret = r.string('secret');
        break;
      default:
        r.skip(k);
    }
  }
  return { jobId, generation, worldSize, senderRank, receiverRank, waitMs, secret };
}

function decodeAbort(r: Reader): LinkAbort {
  let senderRank = 0;
  let reason: AbortReason = 'link';
  let faultyRank: number | null = null;
  let message = '';
  while (!r.done()) {
    const k = r.key();
    switch (k) {
      case key(1, WIRE_VARINT):
        senderRank = r.uint32('sender_rank');
        break;
      case key(2, WIRE_VARINT):
        // An unknown (newer) reason is treated as a broken link: the sender is gone either way.
        reason = REASONS[r.enumCode('reason')] ?? 'link';
        break;
      case key(3, WIRE_VARINT):
        faultyRank = r.uint32('faulty_rank');
        break;
      case key(4, WIRE_LEN):
        message = r.string('message');
        break;
      default:
        r.skip(k);
    }
  }
  return { senderRank, reason, faultyRank, message };
}

function decodeSegment(r: Reader): LinkSegment {
  let jobId = '';
  let generation = 0;
  let senderRank = 0;
  let tag = 0;
  let kindCode = 0;
  let opCode = 0;
  let root = 0;
  let length = 0;
  let step = 0;
  let index = 0;
  let dtypeCode = 0;
  let interleave = 0;
  let dataSpan: [number, number] | null = null;
  while (!r.done()) {
    const k = r.key();
    switch (k) {
      case key(1, WIRE_LEN):
        jobId = r.string('job_id');
        break;
      case key(2, WIRE_VARINT):
        generation = r.uint64('generation');
        break;
      case key(3, WIRE_VARINT):
        senderRank = r.uint32('sender_rank');
        break;
      case key(4, WIRE_VARINT):
        tag = r.uint64('tag');
        break;
      case key(5, WIRE_VARINT):
        kindCode = r.enumCode('kind');
        break;
      case key(6, WIRE_VARINT):
        opCode = r.enumCode('op');
        break;
      case key(7, WIRE_VARINT):
        root = r.uint32('root');
        break;
      case key(8, WIRE_VARINT):
        length = r.uint64('length');
        break;
      case key(9, WIRE_VARINT):
        step = r.uint32('step');
        break;
      case key(10, WIRE_VARINT):
        index = r.uint32('index');
        break;
      case key(11, WIRE_VARINT):
        dtypeCode = r.enumCode('dtype');
        break;
      case key(12, WIRE_VARINT):
        interleave = r.uint64('interleave');
        break;
      case key(15, WIRE_LEN): {
        dataSpan = r.span('data');
        const bytes = dataSpan[1] - dataSpan[0];
        if (bytes > MAX_SEGMENT_BYTES) {
          r.fail(`data of ${bytes} bytes is over the ${MAX_SEGMENT_BYTES} a segment may carry`);
        }
        break;
      }
      default:
        r.skip(k);
    }
  }
  const kind = KINDS[kindCode];
  if (kind === undefined) r.fail(`unknown call kind ${kindCode}`);
  const op = OPS[opCode];
  if (op === undefined) r.fail(`unknown reduce op ${opCode}`);
  const wire = DTYPES[dtypeCode];
  if (wire === undefined) r.fail(`unknown wire dtype ${dtypeCode}`);
  const data = dataSpan === null ? new Float32Array(0) : readPayload(r, dataSpan, wire);
  return { jobId, generation, senderRank, tag, kind, op, root, length, wire, interleave, step, index, data };
}

/** The payload in `span` as float32: a view of the received bytes where aligned, else a copy. */
function readPayload(r: Reader, [start, end]: [number, number], wire: WireDtype): Float32Array {
  const bytes = end - start;
  const size = wireBytes(wire);
  if (bytes % size !== 0) r.fail(`data of ${bytes} bytes is not a whole number of ${wire} values`);
  const buf = r.buf;
  if (wire !== 'float32') return unpackWire(buf.subarray(start, end), wire);
  const offset = buf.byteOffset + start;
  if (offset % 4 !== 0) return unpackWire(buf.subarray(start, end), wire);
  const data = new Float32Array(buf.buffer, offset, bytes / 4);
  receivedInPlace.set(data, buf.byteOffset);
  return data;
}

/**
 * Decodes one LinkMessage; throws WireFormatError on bytes that are not one. What it allocates is
 * bounded by `buf`: strings of its bytes, and a payload that is a view of it where aligned, else
 * one copy of at most MAX_SEGMENT_BYTES (twice that for a 16-bit payload widened to float32).
 */
export function decodeLinkMessage(buf: Buffer): LinkMessage {
  const r: Reader = new Reader(buf, 0, buf.length, 'LinkMessage');
  let message: LinkMessage | null = null;
  while (!r.done()) {
    const k = r.key();
    const field = k >> 3;
    if ((k & 7) !== WIRE_LEN || field > 3) {
      r.skip(k);
      continue;
    }
    const name = field === 1 ? 'hello' : field === 2 ? 'segment' : 'abort';
    const [start, end] = r.span(name);
    const body = new Reader(buf, start, end, `LinkMessage.${name}`);
    // As in protobuf, the last body present wins.
    if (field === 1) message = { type: 'hello', hello: decodeHello(body) };
    else if (field === 2) message = { type: 'segment', segment: decodeSegment(body) };
    else message = { type: 'abort', abort: decodeAbort(body) };
  }
  if (message === null) r.fail('no body (hello, segment or abort)');
  return message;
}
