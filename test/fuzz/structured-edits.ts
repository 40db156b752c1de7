/**
 * Edits at the level of a decoder's structure rather than its bytes: a JSON document with values
 * replaced, keys added or removed, and a stream of messages with some dropped, repeated or
 * swapped. Each edit is a function, so a target can compose them with its own.
 */
import fc from 'fast-check';

/** One edit of a value of type T. */
export type Edit<T> = (value: T) => T;

type Path = readonly (string | number)[];

/** JSON values on the edges decoders check: counts past their limits, wrong types, odd names. */
export const edgyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    0,
    -1,
    0.5,
    -0,
    2 ** 29,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    2 ** 53 + 2,
    1e308,
    null,
    true,
    '',
    'x',
    '__proto__',
    'params',
    'optimizer/m',
    [],
    {},
    [0, 0, 0, 0],
    [{ name: 'w', shape: [2 ** 20, 2 ** 20] }],
  ),
  fc.integer(),
  fc.jsonValue({ maxDepth: 2 }),
);

/** Keys worth adding to an object: names the decoders know, and ones that touch the prototype. */
const KEYS = [
  'params',
  'model_state',
  'optimizer/m',
  'optimizer/__proto__',
  '__proto__',
  'constructor',
  'arrays',
];

function paths(value: unknown, prefix: Path, out: Path[]): Path[] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  }
  return out;
}

/** `doc` (a fresh copy) with `change` applied to the container of `path`, when there is one. */
function at(
  doc: unknown,
  path: Path,
  change: (parent: Record<string | number, unknown>, key: string | number) => void,
): unknown {
  const root: unknown = structuredClone(doc);
  if (path.length === 0) return root;
  let parent: unknown = root;
  for (const k of path.slice(0, -1)) {
    if (typeof parent !== 'object' || parent === null) return root;
    parent = (parent as Record<string | number, unknown>)[k];
  }
  if (typeof parent !== 'object' || parent === null) return root;
  change(parent as Record<string | number, unknown>, path[path.length - 1]!);
  return root;
}

/** Edits of the JSON document `doc`: the paths come from `doc`; on an edited one a missing path is a no-op. */
export function jsonEdit(doc: unknown): fc.Arbitrary<Edit<unknown>> {
  const all = paths(doc, [], []);
  const containers = all.filter((p) => p.length === 0 || typeof p[p.length - 1] === 'string');
  const path = fc.constantFrom(...all);
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.tuple(path, edgyJson).map(
        ([p, value]): Edit<unknown> =>
          (d) =>
            p.length === 0
              ? value
              : at(d, p, (parent, k) => {
                  parent[k] = value;
                }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...containers), fc.oneof(fc.constantFrom(...KEYS), fc.string()), edgyJson)
        .map(
          ([p, key, value]): Edit<unknown> =>
            (d) =>
              at(d, [...p, key], (parent, k) => {
                // defineProperty, so that "__proto__" becomes an own key as JSON.parse would make it.
                Object.defineProperty(parent, k, {
                  value,
                  enumerable: true,
                  writable: true,
                  configurable: true,
                });
              }),
        ),
    },
    {
      weight: 1,
      arbitrary: path.map(
        (p): Edit<unknown> =>
          (d) =>
            at(d, p, (parent, k) => {
              if (Array.isArray(parent)) parent.splice(Number(k), 1);
              else delete parent[k];
            }),
      ),
    },
  );
}

/** Edits of a list (a message stream): drop, repeat or swap items, or append `extra`. */
export function listEdit<T>(extra: fc.Arbitrary<T>): fc.Arbitrary<Edit<T[]>> {
  return fc.oneof(
    fc.nat().map(
      (i): Edit<T[]> =>
        (xs) =>
          xs.filter((_, j) => j !== i % Math.max(1, xs.length)),
    ),
    fc.tuple(fc.nat(), fc.integer({ min: 1, max: 3 })).map(([i, n]): Edit<T[]> => (xs) => {
      if (xs.length === 0) return xs;
      const k = i % xs.length;
      return [...xs.slice(0, k + 1), ...Array<T>(n).fill(xs[k]!), ...xs.slice(k + 1)];
    }),
    fc.tuple(fc.nat(), fc.nat()).map(([i, j]): Edit<T[]> => (xs) => {
      if (xs.length === 0) return xs;
      const out = [...xs];
      const a = i % xs.length;
      const b = j % xs.length;
      [out[a], out[b]] = [out[b]!, out[a]!];
      return out;
    }),
    extra.map((x): Edit<T[]> => (xs) => [...xs, x]),
  );
}

/**
 * JSON text nested up to 20,000 levels deep: built as text, because JSON.stringify itself fails
 * on such a value, which is why decoders must refuse it.
 */
export const deepJson: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 1, max: 20_000 }), fc.boolean())
  .map(([n, arrays]) => (arrays ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n)));

/** `json` with `deep` added as the first member of the non-empty object that is `key`'s value. */
export function withDeepMember(json: string, key: string, deep: string): string {
  return json.replace(`"${key}":{`, `"${key}":{"deep":${deep},`);
}

/**
 * `seed` (a stream of parts) edited, and now and then with a JSON value nested thousands deep as
 * a member of `member` in the JSON `field` of each part that has one. The nesting goes in last: the
 * JSON edits could not write such a value back out.
 */
export function editedWithDeepJson<P extends object>(
  seed: P[],
  edit: fc.Arbitrary<Edit<P[]>>,
  max: number,
  field: keyof P & string,
  member: string,
): fc.Arbitrary<P[]> {
  return fc.tuple(edited(seed, edit, max), fc.option(deepJson, { freq: 8 })).map(([parts, deep]) =>
    deep === null
      ? parts
      : parts.map((p) => {
          const json = p[field];
          return typeof json === 'string' ? { ...p, [field]: withDeepMember(json, member, deep) } : p;
        }),
  );
}

/** `json` parsed, or `json` itself when it is not JSON (an earlier edit may have made it so). */
export function parsedOrKept(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return json;
  }
}

/** `value` after one to `max` edits drawn from `edit`. */
export function edited<T>(value: T, edit: fc.Arbitrary<Edit<T>>, max = 4): fc.Arbitrary<T> {
  return fc.array(edit, { minLength: 1, maxLength: max }).map((edits) => edits.reduce((v, e) => e(v), value));
}
