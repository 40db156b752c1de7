// Original file: proto/harmonium/v1/coordinator.proto


/**
 * What one worker does in one generation of a job.
 */
export interface Assignment {
  'jobId'?: (string);
  'generation'?: (number);
  'rank'?: (number);
  'worldSize'?: (number);
  /**
   * Collective address of every rank; index = rank.
   */
  'peers'?: (string)[];
  /**
   * The compiled job configuration (JSON of the training options).
   */
  'configJson'?: (string);
  /**
   * True when the job continues from the coordinator's last checkpoint (FetchState).
   */
  'resume'?: (boolean);
  'heartbeatIntervalMs'?: (number);
  /**
   * Deadline of one collective call once training runs.
   */
  'collectiveTimeoutMs'?: (number);
  /**
   * Steps between parameter digest comparisons; 0 disables them.
   */
  'digestEvery'?: (number);
  /**
   * Port for the worker's /metrics, 0 for none.
   */
  'metricsPort'?: (number);
}

/**
 * What one worker does in one generation of a job.
 */
export interface Assignment__Output {
  'jobId': (string);
  'generation': (number);
  'rank': (number);
  'worldSize': (number);
  /**
   * Collective address of every rank; index = rank.
   */
  'peers': (string)[];
  /**
   * The compiled job configuration (JSON of the training options).
   */
  'configJson': (string);
  /**
   * True when the job continues from the coordinator's last checkpoint (FetchState).
   */
  'resume': (boolean);
  'heartbeatIntervalMs': (number);
  /**
   * Deadline of one collective call once training runs.
   */
  'collectiveTimeoutMs': (number);
  /**
   * Steps between parameter digest comparisons; 0 disables them.
   */
  'digestEvery': (number);
  /**
   * Port for the worker's /metrics, 0 for none.
   */
  'metricsPort': (number);
}
