// Original file: proto/harmonium/v1/coordinator.proto


export interface JoinRequest {
  /**
   * Unique per worker process, chosen by the worker (host, pid and a random suffix).
   */
  'workerId'?: (string);
  /**
   * host:port of the worker's collective endpoint, as its peers must dial it.
   */
  'collectiveAddress'?: (string);
  'hostname'?: (string);
  'pid'?: (number);
  /**
   * host:port of the worker's /metrics, empty when it serves none.
   */
  'metricsAddress'?: (string);
}

export interface JoinRequest__Output {
  /**
   * Unique per worker process, chosen by the worker (host, pid and a random suffix).
   */
  'workerId': (string);
  /**
   * host:port of the worker's collective endpoint, as its peers must dial it.
   */
  'collectiveAddress': (string);
  'hostname': (string);
  'pid': (number);
  /**
   * host:port of the worker's /metrics, empty when it serves none.
   */
  'metricsAddress': (string);
}
