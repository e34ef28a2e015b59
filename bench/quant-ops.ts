/**
 * Which ONNX form runs an int8 Linear fastest on this CPU: one AST-Base MLP GEMM (M x 768 @ 768 x 3072;
 * M = 1214 tokens per 10 s clip, 4856 for 4 clips) as
 *   fp32 MatMul (the roofline), fp16 MatMul (Cast in and out),
 *   com.microsoft.DynamicQuantizeMatMul (uint8 activations x int8 per-channel weights),
 *   DynamicQuantizeLinear + com.microsoft.MatMulIntegerToFloat,
 *   DynamicQuantizeLinear + MatMulInteger + Cast + Mul (onnxruntime quantize_dynamic's QOperator form),
 *   com.microsoft.MatMulNBits (4-bit blocks of 32, accuracy_level 4);
 * and attention's query/key/value in int8 as three 768 x 768 GEMMs or one 768 x 2304 GEMM + Split.
 * Each is its own session on `--threads` (default 2) with the default optimisation level ('all'); the figure is
 * the minimum and median over `--runs` (default 15) after 3 warm-ups, interleaved so a noisy neighbour hits all.
 * `node --import tsx bench/quant-ops.ts [--m 1214] [--threads 2] [--runs 15] [--level all]`
 */
import { cpus, loadavg } from 'node:os';
import '../src/node/index.js';
import { encodeModel, type OnnxModel, type OnnxNode, type OnnxTensor } from '../src/graph/onnx.js';
import { OrtSession, type GraphOptimizationLevel } from '../src/runtime/session.js';
import { floatToHalf } from '../src/tensor.js';
import { quantizeInt8PerChannel } from '../src/model/quant.js';

const args = process.argv.slice(2);
const arg = (k: string, d: string) => (args.includes(k) ? args[args.indexOf(k) + 1]! : d);
const M = Number(arg('--m', '1214'));
const K = 768;
const N = 3072;
const threads = Number(arg('--threads', '2'));
const runs = Number(arg('--runs', '15'));
const level = arg('--level', 'all') as GraphOptimizationLevel;
const only = args.includes('--only') ? new Set(arg('--only', '').split(',')) : undefined;

let seed = 7;
const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const wHF = Float32Array.from({ length: N * K }, () => (rnd() - 0.5) * 0.04); // [out, in]
const wKN = new Float32Array(K * N); // [in, out] for MatMul
for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wKN[k * N + n] = wHF[n * K + k]!;
const bias = Float32Array.from({ length: N }, () => (rnd() - 0.5) * 0.04);
const q = quantizeInt8PerChannel(wHF, N, K);

const t = (name: string, dtype: OnnxTensor['dtype'], dims: number[], data: OnnxTensor['data']): OnnxTensor => ({ name, dtype, dims, data });
const node = (opType: string, inputs: string[], outputs: string[], domain?: string, attributes?: OnnxNode['attributes']): OnnxNode => ({ opType, inputs, outputs, domain, attributes });

function model(nodes: OnnxNode[], initializers: OnnxTensor[], outN = N): Uint8Array {
  const m: OnnxModel = {
    graph: {
      name: 'gemm',
      nodes,
      inputs: [{ name: 'x', dtype: 'float32', dims: [M, K] }],
      outputs: [{ name: 'y', dtype: 'float32', dims: [M, outN] }],
      initializers,
    },
    opsets: [{ domain: '', version: 18 }, { domain: 'com.microsoft', version: 1 }],
    irVersion: 8,
  };
  return encodeModel(m);
}

function q4Blocks(): { data: Uint8Array; scales: Float32Array } {
  // MatMulNBits B: [N, K/32, 16] uint8, two 4-bit values per byte (low nibble first), zero point 8; scale per block
  const blocks = K / 32;
  const data = new Uint8Array(N * blocks * 16);
  const scales = new Float32Array(N * blocks);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      let amax = 0;
      for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(wHF[n * K + b * 32 + i]!));
      const s = amax / 7;
      scales[n * blocks + b] = s;
      for (let i = 0; i < 32; i += 2) {
        const qv = (j: number) => Math.min(15, Math.max(0, Math.round(s ? wHF[n * K + b * 32 + j]! / s : 0) + 8));
        data[(n * blocks + b) * 16 + i / 2] = qv(i) | (qv(i + 1) << 4);
      }
    }
  }
  return { data, scales };
}

const MS = 'com.microsoft';
const variants: Record<string, () => Uint8Array> = {
  'fp32 MatMul+Add': () => model([node('MatMul', ['x', 'w'], ['t']), node('Add', ['t', 'b'], ['y'])], [t('w', 'float32', [K, N], wKN), t('b', 'float32', [N], bias)]),
  'fp16 MatMul': () =>
    model(
      [
        node('Cast', ['x'], ['xh'], undefined, [['to', { type: 'int', value: 10 }]]),
        node('MatMul', ['xh', 'w'], ['t']),
        node('Add', ['t', 'b'], ['th']),
        node('Cast', ['th'], ['y'], undefined, [['to', { type: 'int', value: 1 }]]),
      ],
      [t('w', 'float16', [K, N], Uint16Array.from(wKN, floatToHalf)), t('b', 'float16', [N], Uint16Array.from(bias, floatToHalf))],
    ),
  DynamicQuantizeMatMul: () =>
    model([node('DynamicQuantizeMatMul', ['x', 'w', 's', '', 'b'], ['y'], MS)], [t('w', 'int8', [K, N], q.data), t('s', 'float32', [N], q.scales), t('b', 'float32', [N], bias)]),
  'DQL+MatMulIntegerToFloat': () =>
    model(
      [node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']), node('MatMulIntegerToFloat', ['xq', 'w', 'xs', 's', 'xz', '', 'b'], ['y'], MS)],
      [t('w', 'int8', [K, N], q.data), t('s', 'float32', [N], q.scales), t('b', 'float32', [N], bias)],
    ),
  'DQL+MatMulInteger+Cast+Mul (QOperator)': () =>
    model(
      [
        node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']),
        node('MatMulInteger', ['xq', 'w', 'xz', 'wz'], ['acc']),
        node('Cast', ['acc'], ['accf'], undefined, [['to', { type: 'int', value: 1 }]]),
        node('Mul', ['xs', 's'], ['sc']),
        node('Mul', ['accf', 'sc'], ['t']),
        node('Add', ['t', 'b'], ['y']),
      ],
      [t('w', 'int8', [K, N], q.data), t('wz', 'int8', [N], new Int8Array(N)), t('s', 'float32', [N], q.scales), t('b', 'float32', [N], bias)],
    ),
  // query/key/value: three 768 x 768 int8 GEMMs, or one 768 x 2304 GEMM then a Split (what q8 emits); both [M, 2304] out
  'QKV 3x DynamicQuantizeMatMul 768x768': () => {
    const qq = quantizeInt8PerChannel(wHF.subarray(0, K * K), K, K);
    const init = (i: number) => [t(`w${i}`, 'int8', [K, K], qq.data), t(`s${i}`, 'float32', [K], qq.scales), t(`b${i}`, 'float32', [K], bias.subarray(0, K))];
    return model(
      [
        ...[0, 1, 2].map((i) => node('DynamicQuantizeMatMul', ['x', `w${i}`, `s${i}`, '', `b${i}`], [`y${i}`], MS)),
        node('Concat', ['y0', 'y1', 'y2'], ['y'], undefined, [['axis', { type: 'int', value: 1 }]]),
      ],
      [0, 1, 2].flatMap(init),
      3 * K,
    );
  },
  'QKV 1x DynamicQuantizeMatMul 768x2304 + Split': () => {
    const qq = quantizeInt8PerChannel(wHF.subarray(0, 3 * K * K), 3 * K, K);
    return model(
      [
        node('DynamicQuantizeMatMul', ['x', 'w', 's', '', 'b'], ['qkv'], MS),
        node('Split', ['qkv', 'sizes'], ['y0', 'y1', 'y2'], undefined, [['axis', { type: 'int', value: 1 }]]),
        node('Concat', ['y0', 'y1', 'y2'], ['y'], undefined, [['axis', { type: 'int', value: 1 }]]),
      ],
      [t('w', 'int8', [K, 3 * K], qq.data), t('s', 'float32', [3 * K], qq.scales), t('b', 'float32', [3 * K], bias.subarray(0, 3 * K)), t('sizes', 'int64', [3], BigInt64Array.of(768n, 768n, 768n))],
      3 * K,
    );
  },
  'MatMulNBits q4 acc4': () => {
    const b4 = q4Blocks();
    const attrs: OnnxNode['attributes'] = [
      ['K', { type: 'int', value: K }],
      ['N', { type: 'int', value: N }],
      ['bits', { type: 'int', value: 4 }],
      ['block_size', { type: 'int', value: 32 }],
      ['accuracy_level', { type: 'int', value: 4 }],
    ];
    return model(
      [node('MatMulNBits', ['x', 'w', 's', '', '', 'b'], ['y'], MS, attrs)],
      [t('w', 'uint8', [N, K / 32, 16], b4.data), t('s', 'float32', [N * (K / 32)], b4.scales), t('b', 'float32', [N], bias)],
    );
  },
};

const x = { dtype: 'float32' as const, dims: [M, K], data: Float32Array.from({ length: M * K }, () => (rnd() - 0.5) * 4) };
const sessions: [string, OrtSession][] = [];
for (const [name, make] of Object.entries(variants)) {
  if (only && ![...only].some((o) => name.includes(o))) continue;
  try {
    sessions.push([name, await OrtSession.create(make(), { threads, graphOptimizationLevel: level })]);
  } catch (e) {
    console.log(`${name}: cannot run here: ${(e as Error).message.split('\n')[0]}`);
  }
}
const times = new Map<string, number[]>(sessions.map(([n]) => [n, []]));
for (let r = 0; r < runs + 3; r++) {
  for (const [name, s] of sessions) {
    const t0 = performance.now();
    await s.run({ x });
    if (r >= 3) times.get(name)!.push(performance.now() - t0);
  }
}
console.log(`${cpus()[0]?.model}; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; M=${M} K=${K} N=${N}, ${threads} threads, level ${level}, ${runs} runs`);
const fp32 = Math.min(...(times.get('fp32 MatMul+Add') ?? [NaN]));
for (const [name, ts] of times) {
  ts.sort((a, b) => a - b);
  const min = ts[0]!;
  console.log(`${name.padEnd(40)} min ${min.toFixed(1).padStart(6)} ms  median ${ts[ts.length >> 1]!.toFixed(1).padStart(6)} ms  min/fp32 ${(min / fp32).toFixed(2)}x`);
}
for (const [, s] of sessions) await s.release();
