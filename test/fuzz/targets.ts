/** Every fuzz target, one per decoder that reads bytes from a network peer or a data file. */
import type { FuzzTarget } from './fuzz-target.js';
import { idxTarget } from './targets/idx.js';
import { imageTarget } from './targets/image.js';
import { jobConfigTarget } from './targets/job-config.js';
import { resultCodecTarget } from './targets/result-codec.js';
import { stateCodecTarget } from './targets/state-codec.js';
import { tarTarget } from './targets/tar.js';
import { wireFormatTarget } from './targets/wire-format.js';

export const TARGETS: readonly FuzzTarget[] = [
  wireFormatTarget,
  stateCodecTarget,
  resultCodecTarget,
  idxTarget,
  tarTarget,
  imageTarget,
  jobConfigTarget,
];
