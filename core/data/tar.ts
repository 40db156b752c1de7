/**
 * A minimal POSIX ustar archive writer and reader, enough for WebDataset-style shards: regular
 * files only, names up to 100 bytes on write, no pax or GNU extensions. Archives are written
 * deterministically (mtime 0, uid/gid 0, fixed mode) so the same samples give the same bytes and
 * therefore the same sha256 in the shard manifest.
 */
import { DataError } from '../errors.js';

const BLOCK = 512;
const NAME_LEN = 100;
/** Largest size an 11-digit octal field can hold (8 GiB - 1). */
const MAX_SIZE = 0o77777777777;

/** One file to store in an archive. */
export interface TarInput {
  readonly name: string;
  readonly data: Uint8Array;
}

/** One regular file read from an archive; `data` is a view into the archive buffer. */
export interface TarEntry {
  readonly name: string;
  readonly data: Uint8Array;
  /** Byte offset of the entry's header in the archive, for error messages. */
  readonly offset: number;
}

function paddedSize(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

function writeAscii(block: Uint8Array, at: number, width: number, text: string): void {
  for (let i = 0; i < text.length && i < width; i++) block[at + i] = text.charCodeAt(i);
}

/** An octal field of `width` bytes: width - 1 zero-padded digits then NUL. */
function writeOctal(block: Uint8Array, at: number, width: number, value: number): void {
  writeAscii(block, at, width, value.toString(8).padStart(width - 1, '0'));
}

function headerChecksum(block: Uint8Array): number {
  let sum = 0;
  // The checksum field itself (bytes 148..155) counts as eight spaces.
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

/**
 * Builds a ustar archive holding `entries` in order, terminated by two zero blocks.
 * Throws RangeError for a name that is empty, non-ASCII or longer than 100 bytes (a caller bug:
 * shard entry names are generated).
 */
export function writeTar(entries: readonly TarInput[]): Buffer {
  let total = 2 * BLOCK;
  for (const e of entries) total += BLOCK + paddedSize(e.data.length);
  const out = Buffer.alloc(total);
  let pos = 0;
  for (const e of entries) {
    if (e.name.length === 0 || e.name.length > NAME_LEN || !/^[\x20-\x7e]+$/.test(e.name)) {
      throw new RangeError(`tar entry name must be 1..${NAME_LEN} printable ASCII characters: "${e.name}"`);
    }
    if (e.data.length > MAX_SIZE) throw new RangeError(`tar entry ${e.name} is too large`);
    const h = out.subarray(pos, pos + BLOCK);
    writeAscii(h, 0, NAME_LEN, e.name);
    writeOctal(h, 100, 8, 0o644);
    writeOctal(h, 108, 8, 0);
    writeOctal(h, 116, 8, 0);
    writeOctal(h, 124, 12, e.data.length);
    writeOctal(h, 136, 12, 0);
    h[156] = 0x30; // typeflag '0': regular file
    writeAscii(h, 257, 6, 'ustar');
    writeAscii(h, 263, 2, '00');
    writeAscii(h, 148, 8, headerChecksum(h).toString(8).padStart(6, '0'));
    h[154] = 0;
    h[155] = 0x20;
    out.set(e.data, pos + BLOCK);
    pos += BLOCK + paddedSize(e.data.length);
  }
  return out;
}

function readString(block: Uint8Array, at: number, width: number): string {
  let end = at;
  while (end < at + width && block[end] !== 0) end++;
  return Buffer.from(block.subarray(at, end)).toString('utf8');
}

function readOctal(block: Uint8Array, at: number, width: number, what: string, where: string): number {
  if ((block[at]! & 0x80) !== 0) {
    throw new DataError('DATA_FORMAT', `${where}: base-256 ${what} field is not supported`);
  }
  const text = readString(block, at, width)
    .replace(/[ \0]+$/, '')
    .trim();
  if (!/^[0-7]*$/.test(text)) {
    throw new DataError('DATA_CORRUPT', `${where}: ${what} field is not octal: "${text}"`);
  }
  return text === '' ? 0 : parseInt(text, 8);
}

/**
 * Iterates the regular files of the ustar archive `buf` in order; directory entries are skipped.
 * `source` names the archive in errors. Throws DataError: DATA_CORRUPT for a bad header checksum,
 * a truncated entry or a missing end-of-archive block; DATA_FORMAT for links, devices and pax/GNU
 * extension headers (each named with its byte offset).
 */
export function* readTar(buf: Uint8Array, source: string): Generator<TarEntry> {
  let pos = 0;
  for (;;) {
    if (pos + BLOCK > buf.length) {
      throw new DataError(
        'DATA_CORRUPT',
        `${source}: truncated tar archive: no end-of-archive block at byte offset ${pos} (file has ${buf.length} bytes)`,
      );
    }
    const h = buf.subarray(pos, pos + BLOCK);
    if (h.every((b) => b === 0)) return;
    const where = `${source}: tar header at byte offset ${pos}`;
    const stored = readOctal(h, 148, 8, 'checksum', where);
    if (stored !== headerChecksum(h)) {
      throw new DataError('DATA_CORRUPT', `${where}: header checksum mismatch`);
    }
    const magic = readString(h, 257, 6);
    if (magic !== 'ustar' && magic !== 'ustar ') {
      throw new DataError('DATA_FORMAT', `${where}: not a ustar header (magic "${magic}")`);
    }
    const size = readOctal(h, 124, 12, 'size', where);
    const type = h[156] === 0 ? '0' : String.fromCharCode(h[156]!);
    const prefix = readString(h, 345, 155);
    const base = readString(h, 0, NAME_LEN);
    const name = prefix === '' ? base : `${prefix}/${base}`;
    const dataStart = pos + BLOCK;
    if (dataStart + size > buf.length) {
      throw new DataError(
        'DATA_CORRUPT',
        `${where}: entry ${name} truncated: expected ${size} bytes of data, ${buf.length - dataStart} left`,
      );
    }
    if (type === '0' || type === '7') {
      yield { name, data: buf.subarray(dataStart, dataStart + size), offset: pos };
    } else if (type !== '5') {
      throw new DataError('DATA_FORMAT', `${where}: entry ${name} has unsupported type '${type}'`);
    }
    pos = dataStart + paddedSize(size);
  }
}
