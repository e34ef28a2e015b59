/**
 * PyTorch checkpoints (`torch.save`; the zip format of PyTorch >= 1.6, e.g. pytorch_model.bin, and the
 * legacy format before it, see parseLegacyTorchCheckpoint):
 *   <root>/data.pkl      the state dict, pickled (protocol 2)
 *   <root>/data/<key>    one file per storage, raw little-endian elements, stored (not compressed)
 *   <root>/version, <root>/byteorder (newer torch)
 * data.pkl is read with a restricted unpickler, like `torch.load(weights_only=True)`: only container
 * and constant opcodes, and only the globals a state dict needs (OrderedDict, tensor/parameter
 * rebuilders, storage types). Anything else (os.system, builtins.eval, any other callable) is refused
 * before it could run, with an error naming the file and the global.
 */
import { FormatError } from './errors.js';
import { numel, type DType, type Tensor } from '../tensor.js';

// ---------------------------------------------------------------- zip (stored entries only)

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;

/** Entry name -> its bytes (views into `bytes`). Only STORED entries, as torch writes them. */
export function readZipEntries(bytes: Uint8Array, source: string): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (o: number) => view.getUint32(o, true);
  const u16 = (o: number) => view.getUint16(o, true);
  const u64 = (o: number) => {
    const v = view.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(source, `corrupt zip (64-bit size ${v})`);
    return Number(v);
  };
  if (bytes.length < 22) throw new FormatError(source, `truncated zip (${bytes.length} bytes)`);

  // End of central directory: 22 bytes plus a comment of up to 65535 bytes, at the very end.
  let eocd = -1;
  for (let o = bytes.length - 22; o >= Math.max(0, bytes.length - 22 - 0xffff); o--) {
    if (u32(o) === SIG_EOCD && o + 22 + u16(o + 20) === bytes.length) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) throw new FormatError(source, `truncated or not a zip archive (no end-of-central-directory record)`);
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(loc) !== SIG_ZIP64_LOCATOR) throw new FormatError(source, `corrupt zip64 archive (no locator)`);
    const z = u64(loc + 8);
    if (z + 56 > bytes.length || u32(z) !== SIG_ZIP64_EOCD) throw new FormatError(source, `corrupt zip64 archive (bad end record)`);
    count = u64(z + 32);
    cdSize = u64(z + 40);
    cdOffset = u64(z + 48);
  }
  if (cdOffset + cdSize > bytes.length) {
    throw new FormatError(source, `truncated zip (central directory at ${cdOffset}+${cdSize} is past the end, ${bytes.length} bytes)`);
  }

  const entries = new Map<string, Uint8Array>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdOffset + cdSize || u32(p) !== SIG_CENTRAL) throw new FormatError(source, `corrupt zip central directory (entry ${i})`);
    const method = u16(p + 10);
    let compressed = u32(p + 20);
    let size = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    let local = u32(p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > cdOffset + cdSize) {
      throw new FormatError(source, `corrupt zip central directory (entry ${i} runs past its end)`);
    }
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: the 0xffffffff fields, in order, as 64-bit values.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = u16(e);
      const len = u16(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        const fieldEnd = Math.min(q + len, extraEnd);
        const next = () => {
          if (q + 8 > fieldEnd) throw new FormatError(source, `corrupt zip entry ${name} (zip64 extra field too short)`);
          return (q += 8), u64(q - 8);
        };
        if (size === 0xffffffff) size = next();
        if (compressed === 0xffffffff) compressed = next();
        if (local === 0xffffffff) local = next();
      }
      e += 4 + len;
    }
    p = extraEnd + commentLen;
    if (method !== 0) {
      throw new FormatError(source, `zip entry ${name} is compressed (method ${method}); torch.save stores entries uncompressed`);
    }
    if (compressed !== size) throw new FormatError(source, `corrupt zip entry ${name} (stored sizes ${compressed} vs ${size})`);
    if (local + 30 > bytes.length || u32(local) !== SIG_LOCAL) throw new FormatError(source, `corrupt zip entry ${name} (bad local header)`);
    const start = local + 30 + u16(local + 26) + u16(local + 28);
    if (start + size > bytes.length) {
      throw new FormatError(source, `truncated zip: entry ${name} needs ${size} bytes at ${start}, file has ${bytes.length}`);
    }
    entries.set(name, bytes.subarray(start, start + size));
  }
  return entries;
}

// ---------------------------------------------------------------- restricted unpickler

/** A global the unpickler was allowed to name (module + qualified name). */
class Global {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get fullName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** The storage a tensor's persistent id points at: `numel` elements from element `start` of storage `key`. */
interface StorageRef {
  readonly kind: 'storage';
  readonly dtype: DType;
  readonly widenFromF64: boolean;
  readonly key: string;
  /** First element inside the root storage: non-zero only for the legacy format's storage views. */
  readonly start: number;
  readonly numel: number;
}

/**
 * A tensor as the pickle describes it (torch._utils._rebuild_tensor_v2), its layout already checked
 * against its storage's size; the data is read once every storage's bytes are known (the legacy
 * format puts them after the pickle).
 */
class PickledTensor {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

const MARK = Symbol('mark');
type Value = null | boolean | number | bigint | string | Uint8Array | Value[] | Map<Value, Value> | Global | StorageRef | PickledTensor;
type StackItem = Value | typeof MARK;

const STORAGE_TYPES: Record<string, { dtype: DType; widenFromF64?: boolean; bytes: number }> = {
  FloatStorage: { dtype: 'float32', bytes: 4 },
  HalfStorage: { dtype: 'float16', bytes: 2 },
  BFloat16Storage: { dtype: 'bfloat16', bytes: 2 },
  DoubleStorage: { dtype: 'float32', widenFromF64: true, bytes: 8 }, // narrowed to float32: no float64 tensors here
  LongStorage: { dtype: 'int64', bytes: 8 },
  IntStorage: { dtype: 'int32', bytes: 4 },
  BoolStorage: { dtype: 'bool', bytes: 1 },
};

/** Everything a state dict may name; all other globals are refused. */
const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  ...Object.keys(STORAGE_TYPES).map((s) => `torch.${s}`),
]);

interface UnpickleContext {
  source: string;
  persistentLoad(pid: Value): Value;
}

function describe(v: StackItem): string {
  if (v === MARK) return 'a mark';
  if (v === null) return 'None';
  if (v instanceof Global) return v.fullName;
  if (v instanceof PickledTensor) return 'a tensor';
  if (v instanceof Map) return 'a dict';
  if (Array.isArray(v)) return 'a tuple/list';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return 'a storage';
  return typeof v;
}

function asInt(v: Value, what: string, source: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  throw new FormatError(source, `${what} must be an integer, got ${describe(v)}`);
}

function asIntTuple(v: Value, what: string, source: string): number[] {
  if (!Array.isArray(v)) throw new FormatError(source, `${what} must be a tuple of integers, got ${describe(v)}`);
  return v.map((x) => asInt(x, what, source));
}

/** Calls an allowed global (the REDUCE opcode). */
function callGlobal(fn: Global, args: Value[], ctx: UnpickleContext): Value {
  const { source } = ctx;
  switch (fn.fullName) {
    case 'collections.OrderedDict':
      if (args.length !== 0) throw new FormatError(source, `collections.OrderedDict called with arguments; refused`);
      return new Map();
    case 'torch._utils._rebuild_tensor_v2': {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      const [storage, offset, size, stride] = args;
      if (args.length < 6 || typeof storage !== 'object' || storage === null || (storage as StorageRef).kind !== 'storage') {
        throw new FormatError(source, `_rebuild_tensor_v2 called with unexpected arguments`);
      }
      const dims = asIntTuple(size ?? null, 'tensor size', source);
      const strides = asIntTuple(stride ?? null, 'tensor stride', source);
      const ref = storage as StorageRef;
      const at = asInt(offset ?? null, 'storage offset', source);
      checkTensorLayout(ref, at, dims, strides, source);
      return new PickledTensor(ref, at, dims, strides);
    }
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state': {
      const data = args[0];
      if (!(data instanceof PickledTensor)) throw new FormatError(source, `${fn.fullName} expects a tensor, got ${describe(data ?? null)}`);
      return data;
    }
    default:
      throw new FormatError(source, `refusing to call ${fn.fullName}`);
  }
}

/** Runs the pickle program at `start` with only the allowed opcodes and globals; `end` is the byte after its STOP. */
function unpickle(data: Uint8Array, ctx: UnpickleContext, start = 0): { value: Value; end: number } {
  const { source } = ctx;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  const stack: StackItem[] = [];
  const memo = new Map<number, Value>();
  let pos = start;

  const need = (n: number) => {
    if (pos + n > data.length) throw new FormatError(source, `truncated pickle (needs ${n} more bytes at ${pos})`);
  };
  const u8 = () => (need(1), data[pos++]!);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const bytesN = (n: number) => {
    // A negative length (BINSTRING's is signed) would move `pos` backwards and loop forever.
    if (n < 0) throw new FormatError(source, `corrupt pickle (negative length ${n} at ${pos})`);
    need(n);
    pos += n;
    return data.subarray(pos - n, pos);
  };
  const utf8 = (b: Uint8Array) => {
    try {
      return text.decode(b);
    } catch {
      throw new FormatError(source, `corrupt pickle (a string that is not UTF-8 at ${pos - b.length})`);
    }
  };
  const line = () => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw new FormatError(source, `truncated pickle (unterminated line at ${pos})`);
    const s = new TextDecoder().decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): Value => {
    const v = stack.pop();
    if (v === undefined || v === MARK) throw new FormatError(source, `corrupt pickle (stack underflow at ${pos})`);
    return v;
  };
  const top = (): Value => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw new FormatError(source, `corrupt pickle (empty stack at ${pos})`);
    return v;
  };
  const popMark = (): Value[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw new FormatError(source, `corrupt pickle (no mark at ${pos})`);
    const items = stack.splice(i) as Value[];
    items.shift();
    return items;
  };
  const global = (module: string, name: string): Global => {
    const full = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(full)) {
      throw new FormatError(
        source, `refusing to load global ${full}: only tensors and containers are allowed (as torch.load(weights_only=True)); ` +
          'this file may run code when loaded by pickle',
      );
    }
    return new Global(module, name);
  };
  const setItems = (dict: Value, items: Value[]) => {
    if (!(dict instanceof Map)) throw new FormatError(source, `corrupt pickle (SETITEM on ${describe(dict)})`);
    for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i]!, items[i + 1]!);
  };
  const append = (list: Value, items: Value[]) => {
    if (!Array.isArray(list)) throw new FormatError(source, `corrupt pickle (APPEND on ${describe(list)})`);
    for (const item of items) list.push(item); // not push(...items): 100k items would overflow the call stack
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME (protocol 4): a length, frames are just read through
        bytesN(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) throw new FormatError(source, `corrupt pickle (${stack.length} items left at STOP)`);
        return { value: pop(), end: pos };
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP
        stack.pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement of n bytes
        const n = u8();
        const b = bytesN(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
        if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8(bytesN(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(bytesN(u8())));
        break;
      case 0x8d: {
        // BINUNICODE8
        need(8);
        const n = Number(view.getBigUint64(pos, true));
        pos += 8;
        stack.push(utf8(bytesN(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING (py2 str; torch writes none, but decode as latin-1 text)
        stack.push(new TextDecoder('latin1').decode(bytesN(u8())));
        break;
      case 0x54: // BINSTRING
        stack.push(new TextDecoder('latin1').decode(bytesN(i32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytesN(u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(bytesN(u32()));
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const d = new Map<Value, Value>();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) throw new FormatError(source, `corrupt pickle (memo ${k} unset at ${at})`);
        stack.push(memo.get(k)!);
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new FormatError(source, `corrupt pickle (STACK_GLOBAL)`);
        stack.push(global(module, name));
        break;
      }
      case 0x52: {
        // REDUCE: callable(*args), only for the allowed globals
        const args = pop();
        const fn = pop();
        if (!(fn instanceof Global)) throw new FormatError(source, `refusing REDUCE on ${describe(fn)} at ${at}`);
        if (!Array.isArray(args)) throw new FormatError(source, `corrupt pickle (REDUCE arguments are ${describe(args)})`);
        stack.push(callGlobal(fn, args, ctx));
        break;
      }
      case 0x62: {
        // BUILD: only the `_metadata` state torch attaches to a state dict's OrderedDict
        const state = pop();
        const obj = top();
        if (!(obj instanceof Map) || !(state instanceof Map || state === null)) {
          throw new FormatError(source, `refusing BUILD on ${describe(obj)} at ${at}`);
        }
        break;
      }
      case 0x51: // BINPERSID
        stack.push(ctx.persistentLoad(pop()));
        break;
      default:
        throw new FormatError(
          source, `refusing pickle opcode 0x${op.toString(16).padStart(2, '0')} ('${String.fromCharCode(op)}') at byte ${at}; ` +
            'only a state dict of tensors is allowed',
        );
    }
  }
}

// ---------------------------------------------------------------- torch checkpoint

/** Reads a state dict from `torch.save` bytes, zip (PyTorch >= 1.6) or legacy. `source` names the file in errors. */
export function parseTorchCheckpoint(bytes: Uint8Array, source: string): Map<string, Tensor> {
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1]! <= 5) return parseLegacyTorchCheckpoint(bytes, source);
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    throw new FormatError(source, `not a PyTorch checkpoint (not a zip archive)`);
  }
  const entries = readZipEntries(bytes, source);
  const pklName = [...entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pklName) throw new FormatError(source, `not a PyTorch checkpoint (no <name>/data.pkl in the archive)`);
  const root = pklName.slice(0, -'data.pkl'.length);
  const byteorder = entries.get(`${root}byteorder`);
  if (byteorder && new TextDecoder().decode(byteorder).trim() !== 'little') {
    throw new FormatError(source, `big-endian checkpoint; only little-endian storages are supported`);
  }

  const storages = new Map<string, { ref: StorageRef; bytes: Uint8Array }>();
  const ctx: UnpickleContext = {
    source,
    persistentLoad(pid) {
      // ('storage', <storage type>, key, location, numel)
      if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length !== 5) {
        throw new FormatError(source, `unsupported persistent id ${describe(pid)}`);
      }
      const [, type, key, , count] = pid;
      const info = storageType(type ?? null, source);
      if (typeof key !== 'string') throw new FormatError(source, `storage key must be a string`);
      const n = storageSize(count ?? null, source);
      const cached = storages.get(key);
      if (cached) return cached.ref;
      const file = entries.get(`${root}data/${key}`);
      if (!file) throw new FormatError(source, `storage ${root}data/${key} is missing from the archive`);
      if (file.length !== n * info.bytes) {
        throw new FormatError(source, `storage ${key} has ${file.length} bytes but ${n} x ${info.name} needs ${n * info.bytes}`);
      }
      const ref: StorageRef = { kind: 'storage', dtype: info.dtype, widenFromF64: info.widenFromF64 ?? false, key, start: 0, numel: n };
      storages.set(key, { ref, bytes: file });
      return ref;
    },
  };
  const { value } = unpickle(entries.get(pklName)!, ctx);
  return stateDict(value, (key) => storages.get(key)!.bytes, source);
}

/** torch.serialization.MAGIC_NUMBER and PROTOCOL_VERSION of the legacy (pre-1.6) format. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/**
 * The legacy `torch.save` format (PyTorch < 1.6, or `_use_new_zipfile_serialization=False`): five
 * pickles back to back — the magic number, the protocol version (1001), a sys-info dict, the state
 * dict (storages as persistent ids), the sorted list of storage keys — then, for each key in that
 * order, an int64 element count and the storage's raw little-endian bytes. All pickles go through the
 * same restricted unpickler; every storage size is checked against the bytes present before use.
 */
function parseLegacyTorchCheckpoint(bytes: Uint8Array, source: string): Map<string, Tensor> {
  const plain: UnpickleContext = {
    source,
    persistentLoad: () => {
      throw new FormatError(source, 'legacy torch.save header holds a persistent id; corrupt file');
    },
  };
  const magic = unpickle(bytes, plain, 0);
  if (magic.value !== LEGACY_MAGIC) {
    throw new FormatError(source, `not a PyTorch checkpoint (a pickle, but its first value is not torch's magic number)`);
  }
  const protocol = unpickle(bytes, plain, magic.end);
  if (protocol.value !== LEGACY_PROTOCOL) {
    throw new FormatError(source, `legacy torch.save protocol ${describe(protocol.value)} is not supported (expected ${LEGACY_PROTOCOL})`);
  }
  const sysInfo = unpickle(bytes, plain, protocol.end);
  if (!(sysInfo.value instanceof Map)) throw new FormatError(source, `corrupt legacy torch.save header (sys info is ${describe(sysInfo.value)})`);
  if (sysInfo.value.get('little_endian') === false) {
    throw new FormatError(source, `big-endian checkpoint; only little-endian storages are supported`);
  }

  // Root storages by key, as the persistent ids describe them; their bytes come after the pickle.
  const roots = new Map<string, { info: StorageInfo; numel: number }>();
  const ctx: UnpickleContext = {
    source,
    persistentLoad(pid) {
      // ('storage', <storage type>, root key, location, numel, view metadata: None or (view key, offset, size))
      if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length !== 6) {
        throw new FormatError(source, `unsupported persistent id ${describe(pid)}`);
      }
      const [, type, key, , count, view] = pid;
      const info = storageType(type ?? null, source);
      if (typeof key !== 'string') throw new FormatError(source, `storage key must be a string`);
      const n = storageSize(count ?? null, source);
      const known = roots.get(key);
      if (!known) roots.set(key, { info, numel: n });
      else if (known.info !== info || known.numel !== n) {
        throw new FormatError(source, `storage ${key} is named as ${known.numel} x ${known.info.name} and as ${n} x ${info.name}`);
      }
      const base = { kind: 'storage', dtype: info.dtype, widenFromF64: info.widenFromF64 ?? false, key } as const;
      if (view === null || view === undefined) return { ...base, start: 0, numel: n };
      if (!Array.isArray(view) || view.length !== 3) throw new FormatError(source, `storage ${key}: view metadata is ${describe(view)}`);
      const start = storageSize(view[1]!, source);
      const size = storageSize(view[2]!, source);
      if (start + size > n) throw new FormatError(source, `storage ${key}: a view of ${size} elements at ${start} is past its ${n} elements`);
      return { ...base, start, numel: size };
    },
  };
  const main = unpickle(bytes, ctx, sysInfo.end);
  const keyList = unpickle(bytes, plain, main.end);
  if (!Array.isArray(keyList.value) || !keyList.value.every((k) => typeof k === 'string')) {
    throw new FormatError(source, `corrupt legacy torch.save file (the storage key list is ${describe(keyList.value)})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Map<string, Uint8Array>();
  let pos = keyList.end;
  for (const key of keyList.value as string[]) {
    const root = roots.get(key);
    if (!root) throw new FormatError(source, `storage ${key} is listed but no tensor uses it`);
    if (data.has(key)) throw new FormatError(source, `storage ${key} is listed twice`);
    if (pos + 8 > bytes.length) throw new FormatError(source, `truncated legacy torch.save file (storage ${key} is missing)`);
    const count = view.getBigInt64(pos, true);
    if (count !== BigInt(root.numel)) {
      throw new FormatError(source, `storage ${key} holds ${count} elements but the pickle says ${root.numel} x ${root.info.name}`);
    }
    const nbytes = root.numel * root.info.bytes;
    if (nbytes > bytes.length - pos - 8) {
      throw new FormatError(source, `truncated legacy torch.save file: storage ${key} needs ${nbytes} bytes at ${pos + 8}, file has ${bytes.length}`);
    }
    data.set(key, bytes.subarray(pos + 8, pos + 8 + nbytes));
    pos += 8 + nbytes;
  }
  for (const key of roots.keys()) {
    if (!data.has(key)) throw new FormatError(source, `storage ${key} is used by a tensor but its data is not in the file`);
  }
  return stateDict(main.value, (key) => data.get(key)!, source);
}

type StorageInfo = (typeof STORAGE_TYPES)[string] & { name: string };
const STORAGE_INFO = new Map<string, StorageInfo>(Object.entries(STORAGE_TYPES).map(([name, t]) => [name, { ...t, name }]));

function storageType(type: Value, source: string): StorageInfo {
  const info = type instanceof Global && type.module === 'torch' ? STORAGE_INFO.get(type.name) : undefined;
  if (!info) throw new FormatError(source, `unsupported storage type ${describe(type)}`);
  return info;
}

function storageSize(v: Value, source: string): number {
  const n = asInt(v, 'storage size', source);
  if (n < 0) throw new FormatError(source, `storage size ${n} is negative`);
  return n;
}

/** The unpickled value as a state dict of tensors, each read from its storage's bytes (views when aligned and contiguous). */
function stateDict(value: Value, storageBytes: (key: string) => Uint8Array, source: string): Map<string, Tensor> {
  if (!(value instanceof Map)) throw new FormatError(source, `not a state dict (the pickle holds ${describe(value)})`);
  const views = new Map<string, ElemArray>(); // one element view (or aligned copy) per storage, however many tensors share it
  const out = new Map<string, Tensor>();
  for (const [k, v] of value) {
    if (typeof k !== 'string') throw new FormatError(source, `state dict key ${describe(k)} is not a string`);
    if (!(v instanceof PickledTensor)) throw new FormatError(source, `state dict entry "${k}" is ${describe(v)}, not a tensor`);
    const ref = v.storage;
    let elems = views.get(ref.key);
    if (!elems) views.set(ref.key, (elems = elementView(storageBytes(ref.key), ref)));
    out.set(k, tensorFromStorage(elems, ref, v.offset, v.size, v.stride));
  }
  return out;
}

type ElemArray = Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array | Float64Array;

function elementView(bytes: Uint8Array, ref: StorageRef): ElemArray {
  const size = ref.widenFromF64 ? 8 : ({ float32: 4, float16: 2, bfloat16: 2, int64: 8, int32: 4, bool: 1 } as const)[ref.dtype];
  let b = bytes;
  if (b.byteOffset % size !== 0) b = new Uint8Array(b); // aligned copy
  const n = b.byteLength / size;
  if (ref.widenFromF64) return new Float64Array(b.buffer, b.byteOffset, n);
  switch (ref.dtype) {
    case 'float32':
      return new Float32Array(b.buffer, b.byteOffset, n);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(b.buffer, b.byteOffset, n);
    case 'int64':
      return new BigInt64Array(b.buffer, b.byteOffset, n);
    case 'int32':
      return new Int32Array(b.buffer, b.byteOffset, n);
    case 'bool':
      return new Uint8Array(b.buffer, b.byteOffset, n);
  }
}

/**
 * A tensor layout must stay inside its storage: sizes and strides non-negative, the last element it
 * reaches inside the storage, and no more elements than the storage holds (a stride-0 "view" of
 * 10^12 elements over one float would otherwise be gathered into 4 TB). Checked before any data is read.
 */
function checkTensorLayout(ref: StorageRef, offset: number, size: number[], stride: number[], source: string): void {
  if (size.length !== stride.length || size.some((d) => d < 0) || stride.some((s) => s < 0) || offset < 0) {
    throw new FormatError(source, `tensor with size (${size}) stride (${stride}) offset ${offset} is malformed`);
  }
  const n = numel(size);
  if (n === 0) return;
  let last = offset;
  for (let i = 0; i < size.length; i++) last += (size[i]! - 1) * stride[i]!;
  if (last >= ref.numel) {
    throw new FormatError(
      source,
      `tensor size (${size}) stride (${stride}) offset ${offset} reaches element ${last} of storage ${ref.key} (${ref.numel} elements)`,
    );
  }
  if (n > ref.numel) {
    throw new FormatError(
      source,
      `tensor size (${size}) stride (${stride}) has ${n} elements but storage ${ref.key} holds ${ref.numel}; overlapping views larger than their storage are not supported`,
    );
  }
}

/** A tensor over storage[offset …] with torch strides: a view when contiguous, else gathered into a contiguous copy. */
function tensorFromStorage(elems: ElemArray, ref: StorageRef, storageOffset: number, size: number[], stride: number[]): Tensor {
  const n = numel(size);
  const offset = ref.start + storageOffset;
  let contiguous = true;
  for (let i = size.length - 1, expect = 1; i >= 0; i--) {
    if (size[i]! !== 1 && stride[i]! !== expect) contiguous = false;
    expect *= size[i]!;
  }
  let data: ElemArray;
  if (contiguous || n === 0) {
    data = elems.subarray(offset, offset + n);
  } else {
    // Gather row-major: walk the output index as an odometer over `size`, reading at sum(idx * stride).
    const C = elems.constructor as { new (n: number): ElemArray };
    data = new C(n);
    const idx = new Array<number>(size.length).fill(0);
    let src = offset;
    for (let o = 0; o < n; o++) {
      (data as unknown as { [i: number]: number | bigint })[o] = elems[src]!;
      for (let d = size.length - 1; d >= 0; d--) {
        idx[d]!++;
        src += stride[d]!;
        if (idx[d]! < size[d]!) break;
        src -= idx[d]! * stride[d]!;
        idx[d] = 0;
      }
    }
  }
  if (ref.widenFromF64) return { dtype: 'float32', dims: size, data: Float32Array.from(data as Float64Array) };
  return { dtype: ref.dtype, dims: size, data } as Tensor;
}
