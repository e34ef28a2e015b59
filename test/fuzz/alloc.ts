/**
 * Allocation probe for the fuzz harness: wraps the global ArrayBuffer, typed-array and Array
 * constructors in Proxies that record the size of every allocation they make, so a target's largest
 * single allocation can be compared with a bound derived from its input's size. Views on an existing
 * buffer (`new Float32Array(buf, off, n)`, `subarray`) allocate nothing and record 0.
 *
 * Covered: `new X(n)`, `new X(arrayLike)`, `X.from`, `X.of`, `slice`/`map`/`subarray` (species go
 * through `prototype.constructor`, also proxied), `new ArrayBuffer(n)`, `new Array(n)`, `Array.from`.
 * Not covered: memory a WebAssembly module grows internally (the compressed-audio decoders), Node
 * Buffers made natively (fs reads: sized by the file), strings and plain objects (bounded by the input).
 */

const TYPED = [
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

let largest = 0;
let largestWhat = '';
let installed = false;

function record(bytes: number, what: string): void {
  if (bytes > largest) {
    largest = bytes;
    largestWhat = what;
  }
}

function lengthOf(arg: unknown): number {
  if (typeof arg === 'number') return arg;
  if (arg instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && arg instanceof SharedArrayBuffer)) return -1; // a view
  if (arg !== null && typeof arg === 'object' && 'length' in arg && typeof (arg as { length: unknown }).length === 'number') {
    return (arg as { length: number }).length;
  }
  return 0; // iterables of unknown length: counted by the Array/typed array they become
}

/** Replaces the global constructors (idempotent). Call before the code under test runs. */
export function installAllocationProbe(): void {
  if (installed) return;
  installed = true;
  const g = globalThis as unknown as Record<string, unknown>;
  for (const name of TYPED) {
    const Ctor = g[name] as { new (...a: unknown[]): ArrayBufferView; BYTES_PER_ELEMENT: number; prototype: object };
    const proxy: typeof Ctor = new Proxy(Ctor, {
      construct(target, args, newTarget): object {
        const n = lengthOf(args[0]);
        if (n > 0) record(n * target.BYTES_PER_ELEMENT, `${name}(${n})`);
        return Reflect.construct(target, args, newTarget === proxy ? target : newTarget);
      },
    });
    Object.defineProperty(Ctor.prototype, 'constructor', { value: proxy, writable: true, configurable: true });
    g[name] = proxy;
  }
  const AB = ArrayBuffer;
  const abProxy: typeof AB = new Proxy(AB, {
    construct(target, args, newTarget): object {
      const n = typeof args[0] === 'number' ? args[0] : 0;
      record(n, `ArrayBuffer(${n})`);
      return Reflect.construct(target, args, newTarget === abProxy ? target : newTarget);
    },
  });
  g.ArrayBuffer = abProxy;
  const Arr = Array;
  const arrProxy: typeof Arr = new Proxy(Arr, {
    construct(target, args, newTarget): object {
      if (args.length === 1 && typeof args[0] === 'number') record(args[0] * 8, `Array(${args[0]})`);
      return Reflect.construct(target, args, newTarget === arrProxy ? target : newTarget);
    },
  });
  g.Array = arrProxy;
}

/** Starts a measurement (one fuzz input). */
export function resetLargestAllocation(): void {
  largest = 0;
  largestWhat = '';
}

/** The largest single allocation since the last reset, in bytes, and what made it. */
export function largestAllocation(): { bytes: number; what: string } {
  return { bytes: largest, what: largestWhat };
}
