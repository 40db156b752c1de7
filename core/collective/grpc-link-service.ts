/**
 * The `harmonium.v1.Collective/Link` method as grpc-js sees it, with the hand-written codec of
 * wire-format.ts, and the channel and server options the links are tuned with.
 *
 * Outgoing messages are encoded by the links before they are written (a segment straight from the
 * Float32Array into one Buffer), so the serializer passes Buffers through. The method is declared
 * here rather than loaded from the .proto at run time so the compiled package does not need the
 * .proto beside it; wire-format.test.ts checks this path and the codec against the .proto.
 */
import type { ChannelOptions, ServiceDefinition } from '@grpc/grpc-js';
import { MAX_SEGMENT_BYTES } from './segment-layout.js';
import { decodeLinkMessage } from './wire-format.js';

export const LINK_METHOD_PATH = '/harmonium.v1.Collective/Link';

const passBuffer = (b: Buffer): Buffer => b;

/** The service both ends use; requests and responses are both LinkMessage. */
export const COLLECTIVE_SERVICE: ServiceDefinition<{ link: unknown }> = {
  link: {
    path: LINK_METHOD_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: passBuffer,
    requestDeserialize: decodeLinkMessage,
    responseSerialize: passBuffer,
    responseDeserialize: decodeLinkMessage,
    originalName: 'link',
  },
};

/** Room for a segment's header next to its largest payload. */
const MAX_MESSAGE_BYTES = MAX_SEGMENT_BYTES + 64 * 1024;

/**
 * Segment data flows from server to client, so the client's receive window bounds throughput.
 * Measured between two processes on loopback with 1 MiB messages: the HTTP/2 default of 64 KiB
 * gave 440 MB/s, 16 MiB gave 1.2-1.7 GB/s, and 2 GiB nothing more while letting more unread data
 * pile up. grpc-js 1.14 has no option for the HTTP/2 frame size, so frames stay at 16 KiB.
 */
const FLOW_CONTROL_WINDOW = 16 << 20;

const KEEPALIVE = {
  // Pings detect a peer that vanished without closing its socket (host down, partition) even
  // when no call is waiting; a call that is waiting also has its own deadline. Generous, because a
  // rank inside a long synchronous model step cannot answer a ping until the step ends.
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 30_000,
  'grpc.keepalive_permit_without_calls': 1,
} as const;

export const CLIENT_OPTIONS: ChannelOptions = {
  ...KEEPALIVE,
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
  // One connection per link: a shared subchannel would put two groups' tensors on one socket.
  'grpc.use_local_subchannel_pool': 1,
  // A peer's endpoint may come up moments after ours; retry the connection quickly within the
  // join deadline instead of the default 1 s first backoff.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
  // A retried Link would be a second, unexpected link.
  'grpc.enable_retries': 0,
};

export const SERVER_OPTIONS: ChannelOptions = {
  ...KEEPALIVE,
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
};
