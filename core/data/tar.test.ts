import assert from 'node:assert/strict';
import { test } from 'node:test';

import { readTar, writeTar } from './tar.js';
import { isDataError } from './testing.js';

const entries = [
  { name: '000000000.png', data: Uint8Array.from([1, 2, 3]) },
  { name: '000000000.cls', data: Buffer.from('7') },
  { name: 'dir/empty.bin', data: new Uint8Array(0) },
  { name: 'big.bin', data: Uint8Array.from({ length: 1500 }, (_, i) => i & 0xff) },
];

test('writeTar/readTar round-trip names and bytes, block aligned, deterministic', () => {
  const tar = writeTar(entries);
  assert.equal(tar.length % 512, 0);
  assert.deepEqual(tar, writeTar(entries));
  const back = [...readTar(tar, 'a.tar')];
  assert.deepEqual(
    back.map((e) => [e.name, Buffer.from(e.data)]),
    entries.map((e) => [e.name, Buffer.from(e.data)]),
  );
  assert.deepEqual(
    back.map((e) => e.offset),
    [0, 1024, 2048, 2560],
  );
});

test('the archive is ustar that GNU-style readers recognise', () => {
  const tar = writeTar(entries);
  assert.equal(tar.subarray(257, 262).toString('latin1'), 'ustar');
  assert.equal(tar.subarray(124, 135).toString('latin1'), '00000000003');
});

test('a corrupted header fails its checksum, naming the offset', () => {
  const tar = writeTar(entries);
  tar[1024 + 3]! ^= 0x01;
  assert.throws(
    () => [...readTar(tar, 'x.tar')],
    isDataError('DATA_CORRUPT', /x\.tar: tar header at byte offset 1024: header checksum/),
  );
});

test('a truncated archive is rejected', () => {
  const tar = writeTar(entries);
  assert.throws(
    () => [...readTar(tar.subarray(0, 2560 + 600), 'x.tar')],
    isDataError('DATA_CORRUPT', /truncated/),
  );
  assert.throws(
    () => [...readTar(tar.subarray(0, 2560 + 512 + 1536), 'x.tar')],
    isDataError('DATA_CORRUPT', /no end-of-archive/),
  );
});

test('non-tar bytes are rejected', () => {
  const junk = Buffer.alloc(1024, 0x41);
  assert.throws(() => [...readTar(junk, 'j.tar')], isDataError('DATA_CORRUPT', /j\.tar/));
});

test('bad entry names are refused on write', () => {
  assert.throws(() => writeTar([{ name: 'x'.repeat(101), data: new Uint8Array(0) }]), RangeError);
  assert.throws(() => writeTar([{ name: '', data: new Uint8Array(0) }]), RangeError);
});
