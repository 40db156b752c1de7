/**
 * A client stream of protobuf messages as one byte string, so that a fuzz input for a streaming
 * call (SaveState's StateParts, Finish's ResultParts) can be kept in a corpus file: each message
 * is its length as a varint, then its bytes, exactly as the coordinator's service serializes and
 * deserializes them.
 */
import { coordinatorServiceDefinition } from '../../proto/coordinator-service.js';

/** A streaming method's request codec, as grpc-js calls it. */
export interface MessageCodec<In, Out> {
  readonly serialize: (message: In) => Buffer;
  readonly deserialize: (bytes: Buffer) => Out;
}

/** The request codec of the coordinator's method `method` (e.g. "SaveState"). */
export function requestCodec<In, Out>(method: 'SaveState' | 'Finish'): MessageCodec<In, Out> {
  const m = coordinatorServiceDefinition()[method] as unknown as {
    requestSerialize: (message: In) => Buffer;
    requestDeserialize: (bytes: Buffer) => Out;
  };
  return { serialize: m.requestSerialize, deserialize: m.requestDeserialize };
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 128) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** `messages`, each length-prefixed, in one buffer. */
export function frame(messages: readonly Uint8Array[]): Buffer {
  return Buffer.concat(messages.flatMap((m) => [Buffer.from(varint(m.length)), m]));
}

/**
 * The messages framed in `bytes`. A frame cut short ends the stream, as a call that breaks
 * mid-message delivers only the whole messages before it.
 */
function unframe(bytes: Uint8Array): Buffer[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    let length = 0;
    let scale = 1;
    for (;;) {
      if (pos >= buf.length || scale > 2 ** 28) return out;
      const byte = buf[pos++]!;
      length += (byte & 127) * scale;
      if (byte < 128) break;
      scale *= 128;
    }
    if (length > buf.length - pos) return out;
    out.push(buf.subarray(pos, pos + length));
    pos += length;
  }
  return out;
}

/**
 * Hands each message framed in `bytes`, deserialized, to `add`, as grpc-js would on a call; false
 * when one does not deserialize, where grpc-js fails the call before the handler sees it.
 */
export function deliver<In, Out>(
  bytes: Uint8Array,
  codec: MessageCodec<In, Out>,
  add: (message: Out) => void,
): boolean {
  for (const message of unframe(bytes)) {
    let decoded: Out;
    try {
      decoded = codec.deserialize(message);
    } catch {
      return false;
    }
    add(decoded);
  }
  return true;
}
