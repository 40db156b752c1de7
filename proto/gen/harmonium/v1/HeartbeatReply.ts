// Original file: proto/harmonium/v1/coordinator.proto


export interface HeartbeatReply {
  /**
   * The worker must stop: its job ended or the coordinator no longer knows it.
   */
  'stop'?: (boolean);
  'reason'?: (string);
}

export interface HeartbeatReply__Output {
  /**
   * The worker must stop: its job ended or the coordinator no longer knows it.
   */
  'stop': (boolean);
  'reason': (string);
}
