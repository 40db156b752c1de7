// Original file: proto/harmonium/v1/coordinator.proto


export interface SubmitJobRequest {
  /**
   * The job's options as a JSON object, with the names and values a job file takes, e.g.
   * {"model": "ae", "epochs": 2, "data": "fashion-mnist"}; every option left out takes its default.
   * The coordinator validates it as the CLI does: an unknown option, a wrong type or a value out of
   * range is INVALID_ARGUMENT with a message naming the option. "out" is a directory under the
   * coordinator's --runs-dir (default: the model's name); one that leaves it is INVALID_ARGUMENT.
   */
  'configJson'?: (string);
  /**
   * Overrides the config's "workers" when > 0.
   */
  'workers'?: (number);
  /**
   * The client's name for the job, for idempotent submission: a second SubmitJob with the same id
   * returns the first job and starts nothing. Letters, digits, '-', '_' and '.', at most 64; empty:
   * the coordinator picks one.
   */
  'jobId'?: (string);
}

export interface SubmitJobRequest__Output {
  /**
   * The job's options as a JSON object, with the names and values a job file takes, e.g.
   * {"model": "ae", "epochs": 2, "data": "fashion-mnist"}; every option left out takes its default.
   * The coordinator validates it as the CLI does: an unknown option, a wrong type or a value out of
   * range is INVALID_ARGUMENT with a message naming the option. "out" is a directory under the
   * coordinator's --runs-dir (default: the model's name); one that leaves it is INVALID_ARGUMENT.
   */
  'configJson': (string);
  /**
   * Overrides the config's "workers" when > 0.
   */
  'workers': (number);
  /**
   * The client's name for the job, for idempotent submission: a second SubmitJob with the same id
   * returns the first job and starts nothing. Letters, digits, '-', '_' and '.', at most 64; empty:
   * the coordinator picks one.
   */
  'jobId': (string);
}
