/**
 * Fuzz target: readTar over a whole shard archive. Inputs are shard-like archives from writeTar,
 * one with a base-256 size field, mutated (octal sizes claiming petabytes among them); half of
 * them have their header checksums fixed up afterwards, so that the fields behind it get tried.
 */
import fc from 'fast-check';

import { readTar, writeTar } from '../../../core/data/tar.js';
import type { FuzzTarget } from '../fuzz-target.js';
import { mutatedBytes } from '../mutate.js';

/** `bytes` with the checksum of every block that carries the ustar magic made right. */
function withChecksums(bytes: Uint8Array): Buffer {
  const tar = Buffer.from(bytes);
  for (let at = 0; at + 512 <= tar.length; at += 512) {
    if (tar.toString('latin1', at + 257, at + 262) !== 'ustar') continue;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : tar[at + i]!;
    tar.write(sum.toString(8).padStart(6, '0') + '\0 ', at + 148, 'latin1');
  }
  return tar;
}

/** A one-entry archive whose size field is GNU base-256 (the high bit set), claiming 2^40 bytes. */
function base256Size(): Buffer {
  const tar = writeTar([{ name: 'big.bin', data: Uint8Array.of(1) }]);
  tar.fill(0, 124, 136);
  tar[124] = 0x80;
  tar[131] = 0x01;
  return withChecksums(tar);
}

/** The tar fuzz target. */
export const tarTarget: FuzzTarget = {
  name: 'tar',
  seeds: () => [
    writeTar([
      { name: '000000000.png', data: Uint8Array.of(0x89, 0x50, 0x4e, 0x47) },
      { name: '000000000.cls', data: Buffer.from('7') },
      { name: 'dir/empty.bin', data: new Uint8Array(0) },
    ]),
    writeTar([{ name: 'big.bin', data: Uint8Array.from({ length: 1500 }, (_, i) => i & 0xff) }]),
    writeTar([]),
    base256Size(),
  ],
  arbitrary: (seeds) => fc.oneof(mutatedBytes(seeds), mutatedBytes(seeds).map(withChecksums)),
  run: (input) => [...readTar(input, 'fuzz.tar')].length,
};
