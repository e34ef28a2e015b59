/**
 * Input generators for the fuzz targets, as fast-check arbitraries (so failures shrink to a small
 * input and every run is reproducible from its seed):
 *  - byte-level mutations of valid seed files: bit flips, truncations, integers written as 0, 1,
 *    2^16-1, 2^31, 2^32-1, 2^63, -1 (1/2/4/8 bytes, little-endian, where length fields live),
 *    inserted/deleted/duplicated (overlapping) ranges, random ranges, splices of two seeds;
 *  - random bytes, bare or behind a format's magic;
 *  - JSON-value mutations (for headers and configs): replaced values of every type, huge strings,
 *    deep nesting, prototype-named keys.
 */
import fc from 'fast-check';

/** Integers written over length and offset fields. */
export const INTERESTING = [0n, 1n, 2n, 0x7fn, 0xffn, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'int'; at: number; width: 1 | 2 | 4 | 8; value: bigint }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'duplicate'; from: number; len: number; to: number }
  | { kind: 'random'; at: number; bytes: Uint8Array };

const pos = fc.nat({ max: 1 << 30 });
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: pos, bit: fc.nat({ max: 7 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: pos }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('int' as const),
      at: pos,
      width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
      value: fc.oneof(fc.constantFrom(...INTERESTING), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: pos, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: pos, len: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), from: pos, len: fc.integer({ min: 1, max: 256 }), to: pos }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('random' as const), at: pos, bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }) },
);

function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.length;
  if (n === 0) return m.kind === 'insert' || m.kind === 'random' ? m.bytes.slice() : bytes;
  switch (m.kind) {
    case 'flip': {
      const out = bytes.slice();
      out[m.at % n]! ^= 1 << m.bit;
      return out;
    }
    case 'truncate':
      return bytes.slice(0, m.at % n);
    case 'int': {
      const out = bytes.slice();
      const at = m.at % n;
      let v = BigInt.asUintN(64, m.value);
      for (let i = 0; i < m.width && at + i < n; i++, v >>= 8n) out[at + i] = Number(v & 0xffn);
      return out;
    }
    case 'insert': {
      const at = m.at % (n + 1);
      const out = new Uint8Array(n + m.bytes.length);
      out.set(bytes.subarray(0, at));
      out.set(m.bytes, at);
      out.set(bytes.subarray(at), at + m.bytes.length);
      return out;
    }
    case 'delete': {
      const at = m.at % n;
      const end = Math.min(n, at + m.len);
      const out = new Uint8Array(n - (end - at));
      out.set(bytes.subarray(0, at));
      out.set(bytes.subarray(end), at);
      return out;
    }
    case 'duplicate': {
      // Copy a range over another place: overlapping and repeated structures (tensors, chunks, entries).
      const from = m.from % n;
      const chunk = bytes.slice(from, Math.min(n, from + m.len));
      const out = bytes.slice();
      out.set(chunk.subarray(0, Math.max(0, n - (m.to % n))), m.to % n);
      return out;
    }
    case 'random': {
      const out = bytes.slice();
      out.set(m.bytes.subarray(0, Math.max(0, n - (m.at % n))), m.at % n);
      return out;
    }
  }
}

/** 1 to `max` mutations of one of the seeds, or a splice of two seeds. */
export function mutatedBytes(seeds: readonly Uint8Array[], max = 8): fc.Arbitrary<Uint8Array> {
  const one = fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.array(mutationArb, { minLength: 1, maxLength: max }))
    .map(([i, ms]) => ms.reduce(apply, seeds[i]!));
  const splice = fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.nat({ max: seeds.length - 1 }), pos, pos)
    .map(([i, j, a, b]) => {
      const x = seeds[i]!;
      const y = seeds[j]!;
      const head = x.subarray(0, x.length ? a % x.length : 0);
      const tail = y.subarray(y.length ? b % y.length : 0);
      const out = new Uint8Array(head.length + tail.length);
      out.set(head);
      out.set(tail, head.length);
      return out;
    });
  return fc.oneof({ weight: 9, arbitrary: one }, { weight: 1, arbitrary: splice });
}

/** Random bytes, some behind one of the given magic prefixes. */
export function randomBytes(magics: readonly Uint8Array[] = [], maxLength = 4096): fc.Arbitrary<Uint8Array> {
  const raw = fc.uint8Array({ maxLength });
  if (magics.length === 0) return raw;
  const prefixed = fc.tuple(fc.constantFrom(...magics), raw).map(([m, r]) => {
    const out = new Uint8Array(m.length + r.length);
    out.set(m);
    out.set(r, m.length);
    return out;
  });
  return fc.oneof(raw, prefixed);
}

// ---------------------------------------------------------------- JSON values

/** Keys that a careless `obj[key] = …` or `key in obj` turns into prototype trouble. */
export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'];

/** Numbers that break naive checks. */
export const NASTY_NUMBERS = [0, -0, -1, 1, 0.5, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 1e12, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER];

/** A string of `n` characters, cheap to make. */
const hugeString = fc.integer({ min: 1 << 10, max: 1 << 20 }).map((n) => 'x'.repeat(n));

/** An array nested `depth` deep: [[[...[0]...]]]. */
export function deepNesting(depth: number, open = '[', close = ']'): string {
  return open.repeat(depth) + '0' + close.repeat(depth);
}

/** Any JSON value, with the nasty ones over-represented. */
export const jsonValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_NUMBERS) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 2, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 1, arbitrary: fc.constantFrom(...PROTO_KEYS) },
  { weight: 1, arbitrary: hugeString },
  { weight: 2, arbitrary: fc.constantFrom(null, true, false) },
  { weight: 1, arbitrary: fc.array(fc.oneof(fc.integer(), fc.constantFrom(...NASTY_NUMBERS), fc.string({ maxLength: 4 })), { maxLength: 6 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(...PROTO_KEYS)), fc.oneof(fc.integer(), fc.string({ maxLength: 6 })), { maxKeys: 4 }) },
);

/** A JSON key: ordinary, numeric, prototype-named or empty. */
export const jsonKey: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom(...PROTO_KEYS, '', '0', '-1', '01', '1e3'),
  fc.nat({ max: 2000 }).map(String),
);

/** Edits of a JSON object: replace, delete or add fields (values from `jsonValue`), or nest one deep. */
export function mutatedObject(base: Record<string, unknown>, extraKeys: readonly string[] = []): fc.Arbitrary<Record<string, unknown>> {
  const keys = [...Object.keys(base), ...extraKeys];
  const edit = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), key: fc.constantFrom(...keys), value: jsonValue }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...keys) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('set' as const), key: jsonKey, value: jsonValue }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('nest' as const), key: fc.constantFrom(...keys), depth: fc.integer({ min: 1, max: 20_000 }) }) },
  );
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    const out: Record<string, unknown> = { ...base };
    for (const e of edits) {
      if (e.op === 'delete') delete out[e.key];
      else if (e.op === 'set') Object.defineProperty(out, e.key, { value: e.value, enumerable: true, writable: true, configurable: true });
      else {
        let v: unknown = 0;
        for (let i = 0; i < e.depth; i++) v = [v];
        Object.defineProperty(out, e.key, { value: v, enumerable: true, writable: true, configurable: true });
      }
    }
    return out;
  });
}

/** JSON text: mostly `JSON.stringify` of a value, sometimes byte-mutated afterwards. */
export function jsonBytes(objects: fc.Arbitrary<unknown>, seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const enc = new TextEncoder();
  const serialised = objects.map((o) => {
    try {
      return enc.encode(JSON.stringify(o));
    } catch {
      return enc.encode(deepNesting(20_000)); // JSON.stringify itself overflows on the deepest nests
    }
  });
  return fc.oneof(
    { weight: 6, arbitrary: serialised },
    { weight: 3, arbitrary: mutatedBytes(seeds) },
    { weight: 1, arbitrary: fc.constantFrom(deepNesting(100_000), deepNesting(100_000, '{"a":', '}')).map((s) => enc.encode(s)) },
  );
}
