// Original file: proto/harmonium/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface HeartbeatReply {
  /**
   * The worker must stop its job: the job ended, or the worker was fenced out of its generation.
   */
  'stop'?: (boolean);
  'reason'?: (string);
  /**
   * The coordinator does not know this worker (it was dropped): join again.
   */
  'unknown'?: (boolean);
  /**
   * Committed steps of the worker's job whose records the coordinator holds (0 for none).
   */
  'recordedStep'?: (number | string | Long);
  /**
   * The coordinator has no Join stream from this worker (it took over from another, or the stream
   * broke): the worker opens one again, saying where it stands.
   */
  'joinAgain'?: (boolean);
}

export interface HeartbeatReply__Output {
  /**
   * The worker must stop its job: the job ended, or the worker was fenced out of its generation.
   */
  'stop': (boolean);
  'reason': (string);
  /**
   * The coordinator does not know this worker (it was dropped): join again.
   */
  'unknown': (boolean);
  /**
   * Committed steps of the worker's job whose records the coordinator holds (0 for none).
   */
  'recordedStep': (number);
  /**
   * The coordinator has no Join stream from this worker (it took over from another, or the stream
   * broke): the worker opens one again, saying where it stands.
   */
  'joinAgain': (boolean);
}
