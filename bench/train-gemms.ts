/**
 * The GEMM floor of one AST training step: every matrix product of an AST-Base step (forward, the attention
 * recompute, backward dX and dW, the attention backward), each timed alone at its shape, on ONNX Runtime
 * (our MLAS kernels, one node per session, the kernel time from ORT's profiler) and on PyTorch 1.13
 * (`torch.mm` / `torch.bmm` into a preallocated output), 2 threads each, alternating run by run. Summed
 * with their counts per step, they say how much of each side's step is GEMM time and what no change
 * outside the GEMMs can go below.
 *
 *   node --import tsx bench/train-gemms.ts [--runs N] [--threads N] [--batch 8] [--frames 256] [--layers 12]
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import '../src/node/index.js';
import { GraphBuilder } from '../src/graph/builder.js';
import { OrtSession } from '../src/runtime/session.js';
import { lineReader } from './python-peer.js';

export interface GemmCase {
  what: string;
  /** per encoder layer */
  count: number;
  /** batch of independent products (1: a plain 2-D GEMM) */
  batch: number;
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
}

/** The products of one AST encoder layer's training step (forward, recompute, backward), at B clips of T tokens. */
export function layerGemms(B: number, T: number, H = 768, I = 3072, heads = 12): GemmCase[] {
  const M = B * T;
  const BH = B * heads;
  const d = H / heads;
  const c = (what: string, count: number, batch: number, m: number, k: number, n: number, transA = false, transB = false): GemmCase => ({ what, count, batch, m, k, n, transA, transB });
  return [
    c('fwd Linear H->H (q, k, v, out): X W^T', 4, 1, M, H, H, false, true),
    c('fwd Linear H->4H: X W^T', 1, 1, M, H, I, false, true),
    c('fwd Linear 4H->H: X W^T', 1, 1, M, I, H, false, true),
    c('fwd+recompute attention Q K^T', 2, BH, T, d, T, false, true),
    c('fwd attention P V', 1, BH, T, T, d),
    c('bwd dX H->H: dY W', 4, 1, M, H, H),
    c('bwd dX of H->4H: dY W', 1, 1, M, I, H),
    c('bwd dX of 4H->H: dY W', 1, 1, M, H, I),
    c('bwd dW H->H: dY^T X', 4, 1, H, M, H, true, false),
    c('bwd dW H->4H: dY^T X', 1, 1, I, M, H, true, false),
    c('bwd dW 4H->H: dY^T X', 1, 1, H, M, I, true, false),
    c('bwd attention dP = dO V^T', 1, BH, T, d, T, false, true),
    c('bwd attention dV = P^T dO', 1, BH, T, T, d, true, false),
    c('bwd attention dQ = dS K', 1, BH, T, T, d),
    c('bwd attention dK = dS^T Q', 1, BH, T, T, d, true, false),
  ];
}

const flops = (g: GemmCase): number => 2 * g.batch * g.m * g.k * g.n;

/** One session holding the one product (Gemm for 2-D, com.microsoft FusedMatMul for batched). */
function gemmGraph(g: GemmCase): Uint8Array {
  const b = new GraphBuilder('gemm');
  const aDims = g.transA ? [g.k, g.m] : [g.m, g.k];
  const bDims = g.transB ? [g.n, g.k] : [g.k, g.n];
  const lead = g.batch > 1 ? [g.batch] : [];
  const A = b.input('a', 'float32', [...lead, ...aDims]);
  const Bv = b.input('b', 'float32', [...lead, ...bDims]);
  const attrs: Record<string, number> = {};
  if (g.transA) attrs.transA = 1;
  if (g.transB) attrs.transB = 1;
  const y = g.batch > 1 ? b.op('FusedMatMul', [A, Bv], attrs, 1, 'com.microsoft')[0]! : b.op('Gemm', [A, Bv], attrs)[0]!;
  b.output(y, 'y');
  return b.encode();
}

const TORCH = `
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
cases = json.loads(sys.argv[2])
ops = []
for c in cases:
    bt = c['batch']
    a = torch.randn(*(([bt] if bt > 1 else []) + ([c['k'], c['m']] if c['transA'] else [c['m'], c['k']])))
    b = torch.randn(*(([bt] if bt > 1 else []) + ([c['n'], c['k']] if c['transB'] else [c['k'], c['n']])))
    out = torch.empty(*(([bt] if bt > 1 else []) + [c['m'], c['n']]))
    A = a.transpose(-1, -2) if c['transA'] else a
    Bm = b.transpose(-1, -2) if c['transB'] else b
    f = (lambda A=A, Bm=Bm, out=out: torch.bmm(A, Bm, out=out)) if bt > 1 else (lambda A=A, Bm=Bm, out=out: torch.mm(A, Bm, out=out))
    f()
    ops.append(f)
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    f = ops[int(line)]
    c0 = time.process_time(); t0 = time.perf_counter(); f()
    print(json.dumps({"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0}), flush=True)
`;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row extends GemmCase {
  /** wall time of the kernel (ORT's profiler) / of the call (PyTorch), median */
  oursMs: number;
  torchMs?: number;
  /** CPU time of the process over the call, all threads, median (what a loaded machine distorts least) */
  oursCpuMs: number;
  torchCpuMs?: number;
}

export async function benchGemms(o: { runs?: number; threads?: number; batch?: number; frames?: number; layers?: number; log?: (s: string) => void } = {}): Promise<Row[]> {
  const runs = o.runs ?? 5;
  const threads = o.threads ?? 2;
  const B = o.batch ?? 8;
  const frames = o.frames ?? 256;
  const layers = o.layers ?? 12;
  const log = o.log ?? ((s: string) => process.stdout.write(s + '\n'));
  // AST patches: 16x16, stride 10 over 128 mel bins x frames, plus 2 special tokens
  const T = 12 * (Math.floor((frames - 16) / 10) + 1) + 2;
  const cases = layerGemms(B, T);
  const py = spawn('/usr/bin/python3', ['-c', TORCH, String(threads), JSON.stringify(cases)], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' } });
  let stderr = '';
  py.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const next = lineReader(py.stdout);
  const ready = await next();
  const torchOk = ready !== undefined;
  if (!torchOk) log(`(PyTorch: ${stderr.trim().split('\n').pop() ?? 'no output'})`);
  const rows: Row[] = [];
  for (const [i, g] of cases.entries()) {
    const prefix = resolve(`ast-gemm-profile-${process.pid}-${i}`);
    const s = await OrtSession.create(gemmGraph(g), { threads, sessionConfig: { session: { 'intra_op.allow_spinning': '0' } }, profileFilePrefix: prefix });
    const lead = g.batch > 1 ? [g.batch] : [];
    const rand = (n: number): Float32Array => Float32Array.from({ length: n }, (_, j) => Math.sin(j * 12.9898) * 0.5);
    const feeds = {
      a: { dtype: 'float32' as const, dims: [...lead, ...(g.transA ? [g.k, g.m] : [g.m, g.k])], data: rand(g.batch * g.m * g.k) },
      b: { dtype: 'float32' as const, dims: [...lead, ...(g.transB ? [g.n, g.k] : [g.k, g.n])], data: rand(g.batch * g.k * g.n) },
    };
    const theirs: number[] = [];
    const theirsCpu: number[] = [];
    const mineCpu: number[] = [];
    await s.run(feeds); // warm-up (its kernel time is skipped below)
    for (let r = 0; r < runs; r++) {
      const c0 = process.cpuUsage();
      await s.run(feeds);
      const c = process.cpuUsage(c0);
      mineCpu.push((c.user + c.system) / 1000);
      if (torchOk) {
        py.stdin.write(`${i}\n`);
        const t = JSON.parse((await next())!) as { seconds: number; cpu: number };
        theirs.push(t.seconds * 1000);
        theirsCpu.push(t.cpu * 1000);
      }
    }
    await s.release();
    const dir = dirname(prefix);
    const file = readdirSync(dir).map((f) => join(dir, f)).find((f) => basename(f).startsWith(basename(prefix) + '_') && f.endsWith('.json'))!;
    const events = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; ts: number }[];
    rmSync(file);
    const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time')).sort((a, b) => a.ts - b.ts).slice(1);
    const row: Row = { ...g, oursMs: median(kernels.map((e) => e.dur / 1000)), oursCpuMs: median(mineCpu) };
    if (torchOk) {
      row.torchMs = median(theirs);
      row.torchCpuMs = median(theirsCpu);
    }
    rows.push(row);
    const rate = (ms: number): string => `${(flops(g) / ms / 1e6).toFixed(0).padStart(4)} GFLOP/s`;
    log(
      `  ${g.what.padEnd(38)} x${g.count}  ${`${g.batch > 1 ? g.batch + 'x' : ''}[${g.m}x${g.k}]x[${g.k}x${g.n}]`.padEnd(24)} ours ${row.oursMs.toFixed(1).padStart(7)} ms ${rate(row.oursMs)} (CPU ${row.oursCpuMs.toFixed(0)} ms)` +
        (row.torchMs !== undefined ? `   PyTorch ${row.torchMs.toFixed(1).padStart(7)} ms ${rate(row.torchMs)} (CPU ${row.torchCpuMs!.toFixed(0)} ms)` : ''),
    );
  }
  py.stdin.end();
  const total = (pick: (r: Row) => number | undefined): number => layers * rows.reduce((a, r) => a + r.count * (pick(r) ?? NaN), 0);
  const fl = layers * rows.reduce((a, r) => a + r.count * flops(r), 0);
  const ours = total((r) => r.oursMs);
  log(`GEMMs of one step (${layers} layers, batch ${B}, ${T} tokens; ${(fl / 1e9).toFixed(0)} GFLOP, ${(fl / 1e9 / B).toFixed(1)} GFLOP per clip):`);
  const oursCpu = total((r) => r.oursCpuMs);
  log(`  ours    ${ours.toFixed(0)} ms/step = ${(ours / B).toFixed(0)} ms/clip (${(fl / ours / 1e6).toFixed(0)} GFLOP/s); CPU ${oursCpu.toFixed(0)} ms/step`);
  if (torchOk) {
    const theirs = total((r) => r.torchMs);
    const theirsCpu = total((r) => r.torchCpuMs);
    log(`  PyTorch ${theirs.toFixed(0)} ms/step = ${(theirs / B).toFixed(0)} ms/clip (${(fl / theirs / 1e6).toFixed(0)} GFLOP/s); CPU ${theirsCpu.toFixed(0)} ms/step`);
    log(`  ours / PyTorch: ${(ours / theirs).toFixed(2)}x wall, ${(oursCpu / theirsCpu).toFixed(2)}x CPU`);
  }
  return rows;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  process.stdout.write(`GEMMs of one AST training step, each alone at its shape, ${arg('--threads') ?? 2} threads, median of ${arg('--runs') ?? 5} alternating runs\n`);
  await benchGemms({ runs: arg('--runs'), threads: arg('--threads'), batch: arg('--batch'), frames: arg('--frames'), layers: arg('--layers') });
}
