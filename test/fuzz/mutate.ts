/**
 * Structure-aware byte inputs for the fuzz targets: valid encodings from the real encoders, each
 * changed by a few mutations (bit flips, truncation, splices from another seed, inserted or
 * overwritten bytes, varints and big-endian words blown up to huge values), so that most inputs
 * get past a decoder's first checks and reach its deeper ones. Raw random bytes are mixed in.
 */
import fc from 'fast-check';

type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'overwrite'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | {
      readonly kind: 'splice';
      readonly at: number;
      readonly seed: number;
      readonly from: number;
      readonly length: number;
    }
  | { readonly kind: 'repeat'; readonly at: number; readonly length: number; readonly times: number };

/** A protobuf varint (LEB128) of `value`, up to 10 bytes. */
function varint(value: bigint): Uint8Array {
  const out: number[] = [];
  let v = value;
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return Uint8Array.from(out);
}

/** Byte strings that sit on the edges decoders check: lengths, counts, sizes and magic numbers. */
const interesting: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc
    .constantFrom(
      [0x00],
      [0xff],
      [0x7f],
      [0x80],
      [0x00, 0x00, 0x00, 0x00],
      [0xff, 0xff, 0xff, 0xff],
      [0x7f, 0xff, 0xff, 0xff],
      [0x80, 0x00, 0x00, 0x00],
      [0x00, 0x01, 0x00, 0x00],
      [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
      [...Buffer.from('77777777777\0')],
      [...Buffer.from('99999999999\0')],
      [0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      [...Buffer.from('IDAT')],
      [...Buffer.from('IHDR')],
      [0xff, 0xc0],
      [0xff, 0xc2],
      [0xff, 0xd9],
    )
    .map((b) => Uint8Array.from(b)),
  fc
    .constantFrom(2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 64n - 1n, 2n ** 31n, 4096n)
    .map(varint),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(varint),
  fc.uint8Array({ minLength: 1, maxLength: 8 }),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('flip'), at: fc.nat(), bit: fc.nat(7) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('overwrite'), at: fc.nat(), bytes: interesting }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('insert'), at: fc.nat(), bytes: interesting }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('delete'),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 16 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate'), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('splice'),
      at: fc.nat(),
      seed: fc.nat(),
      from: fc.nat(),
      length: fc.integer({ min: 1, max: 256 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('repeat'),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 64 }),
      times: fc.integer({ min: 2, max: 64 }),
    }),
  },
);

function apply(input: Uint8Array, m: Mutation, seeds: readonly Uint8Array[]): Uint8Array {
  const b = Buffer.from(input);
  const at = m.at % (b.length + 1);
  switch (m.kind) {
    case 'flip':
      if (at < b.length) b[at]! ^= 1 << m.bit;
      return b;
    case 'overwrite':
      return Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(Math.min(b.length, at + m.bytes.length))]);
    case 'insert':
      return Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    case 'delete':
      return Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)]);
    case 'truncate':
      return b.subarray(0, at);
    case 'splice': {
      const other = seeds[m.seed % seeds.length]!;
      const from = m.from % (other.length + 1);
      return Buffer.concat([b.subarray(0, at), other.subarray(from, from + m.length), b.subarray(at)]);
    }
    case 'repeat': {
      const piece = b.subarray(at, at + m.length);
      return Buffer.concat([b.subarray(0, at), ...Array<Buffer>(m.times).fill(piece), b.subarray(at)]);
    }
  }
}

/**
 * Inputs for a decoder whose valid encodings are `seeds`: mostly a seed with one to eight
 * mutations, sometimes a seed as it is or random bytes.
 */
export function mutatedBytes(seeds: readonly Uint8Array[], maxRandomBytes = 512): fc.Arbitrary<Uint8Array> {
  const seed = fc.nat(seeds.length - 1).map((i) => seeds[i]!);
  return fc.oneof(
    { weight: 1, arbitrary: seed },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: maxRandomBytes }) },
    {
      weight: 8,
      arbitrary: fc
        .tuple(seed, fc.array(mutation, { minLength: 1, maxLength: 8 }))
        .map(([s, ms]) => ms.reduce<Uint8Array>((b, m) => apply(b, m, seeds), s)),
    },
  );
}
