// Original file: proto/harmonium/v1/coordinator.proto


export interface LeaveRequest {
  'workerId'?: (string);
  'reason'?: (string);
}

export interface LeaveRequest__Output {
  'workerId': (string);
  'reason': (string);
}
