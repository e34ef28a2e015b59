/**
 * `npm run bench`: every benchmark in one run, each figure beside its peer from the same run.
 *
 *   npm run bench                          # features, engine, train (about 15-25 min on 2 cores); browser only when named
 *   npm run bench -- --only features       # or engine, train; comma-separated
 *   npm run bench -- --no-peers            # ours only (no PyTorch / transformers.js)
 *   npm run bench -- --only engine --runs 2 --batches 1 --no-torch   # a quick ours-vs-transformers.js check
 *   npm run bench -- --only engine --dtype fp32,q8   # engine dtypes (default fp32,q8,fp16)
 *   npm run bench -- --only engine --device webgpu --no-peers   # ours on the WebGPU EP (fp32; the dtype part is skipped)
 *   npm run bench -- --only serve --serve-models embedded --soak-s 5   # ast-audio serve vs offline classify
 *   npm run bench -- --only serve --serve-models embedded --serve-threads 2,1 --rounds 2 --level-s 4
 *   npm run bench -- --only browser --runs 5   # headless Chromium: ours vs transformers.js (WASM threads), ours vs Node
 *   npm run bench -- --only tag-stream --stream-hours 1,10   # classify over 1 h and 10 h WAVs: wall time, peak RSS
 *   npm run bench -- --only tag      # tag-files, tag-queue and tag-stream
 *   npm run bench -- --only tag-files --tag-files 200 --tag-base-files 20   # ast-audio tag, one process
 *   npm run bench -- --only tag-queue --queue-files 48 --queue-model base   # tag: 1 process vs 2 BullMQ workers
 *
 * Peers run only where /usr/bin/python3 has Debian's python3-torch + python3-torchaudio
 * (and, for transformers.js, npm registry access); otherwise each section says it skipped them.
 */
import { benchFeatures } from './features.js';
import { benchEngine } from './engine.js';
import { benchTrain, fmtMsPerClip } from './train.js';
import { parseDtypeList } from '../src/model/export.js';
import { benchLowPrecision } from './engine-dtypes.js';
import { benchServe } from './serve.js';
import { benchBrowser } from './browser/run.js';
import { benchTagStream } from './tag-stream.js';
import { benchTagFiles } from './tag-files.js';
import { benchTagQueue } from './tag-queue.js';

const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? '').split(',')) : undefined;
const peers = !args.includes('--no-peers');
const dtypeAt = args.indexOf('--dtype');
const dtypes = dtypeAt >= 0 ? parseDtypeList(args[dtypeAt + 1] ?? '') : undefined;
const wanted = (name: string): boolean => !only || only.has(name);
// `--only tag` runs the three corpus sections: one process, BullMQ workers, long recordings streamed
const wantedTag = (name: string): boolean => wanted(name) || (only?.has('tag') ?? false);
const deviceAt = args.indexOf('--device');
const device = deviceAt >= 0 ? args[deviceAt + 1] : 'cpu';
if (device !== 'cpu' && device !== 'webgpu') throw new Error(`--device must be cpu or webgpu, got ${JSON.stringify(device)}`);
const log = (line: string): void => void process.stdout.write(`${line}\n`);
const fmtRatio = (r: number | null | undefined): string => (r == null ? 'n/a' : `${r.toFixed(2)}x`);

const summary: string[] = [];

if (wanted('features')) {
  log('\n== features: Kaldi fbank + ASTFeatureExtractor per 10 s clip vs torchaudio ==');
  const r = await benchFeatures({ log });
  summary.push(
    `features  ours ${r.oursExtract.wallMs.toFixed(2)} ms/clip wall, ${r.oursExtract.cpuMs.toFixed(2)} ms CPU` +
      `  torchaudio (1 thread) ${r.torchaudio1?.wallMs.toFixed(2) ?? 'n/a'} ms wall, ${r.torchaudio1?.cpuMs.toFixed(2) ?? 'n/a'} ms CPU` +
      `  ratio wall ${fmtRatio(r.wallRatio)}, CPU ${fmtRatio(r.cpuRatio)}, fastest runs ${fmtRatio(r.bestCpuRatio)}`,
  );
}

if (wanted('engine')) {
  log('\n== engine: AST-Base forward per 10 s clip vs PyTorch and transformers.js ==');
  const runsAt = args.indexOf('--runs');
  const batchesAt = args.indexOf('--batches');
  const r = await benchEngine({
    log,
    peers,
    torch: !args.includes('--no-torch'),
    runs: runsAt >= 0 ? Number(args[runsAt + 1]) : undefined,
    batches: batchesAt >= 0 ? args[batchesAt + 1]!.split(',').map(Number) : undefined,
    device,
  });
  for (const [batch, o] of Object.entries(r.ours)) {
    const torch = typeof r.torch === 'object' ? r.torch[Number(batch)]?.msPerClip : undefined;
    const tjs = typeof r.transformersJs === 'object' ? r.transformersJs[Number(batch)]?.msPerClip : undefined;
    summary.push(
      `engine bs${batch}  ours${device === 'cpu' ? '' : ` (${device})`} ${o.msPerClip.toFixed(0)} ms/clip (${o.gflops.toFixed(0)} GFLOP/s)` +
        `  PyTorch ${torch?.toFixed(0) ?? 'n/a'} (${fmtRatio(torch ? o.msPerClip / torch : null)})` +
        `  transformers.js ${tjs?.toFixed(0) ?? 'n/a'} (${fmtRatio(tjs ? o.msPerClip / tjs : null)})`,
    );
  }
  summary.push(
    `engine    ${r.cpu}; every session ${r.sessions[0]?.intraOpNumThreads} intra-op threads, spinning off` +
      ` (${r.sessions.length} sessions checked)`,
  );
  summary.push(
    `engine    roofline ${r.matmulGflops.toFixed(0)} GFLOP/s, ours at ${(100 * r.rooflineFraction).toFixed(0)} %;` +
      ` load ${r.load.ms.toFixed(0)} ms, peak RSS ${r.load.peakRssMB.toFixed(0)} MB for a ${r.load.fileMB.toFixed(0)} MB file`,
  );
}

if (wanted('engine') && device !== 'cpu') {
  log(`\n(engine, low precision: skipped on --device ${device}; fp16 on WebGPU is timed by bench/gpu/ours.ts bench --dtypes fp32,fp16)`);
} else if (wanted('engine') && (dtypes ?? ['fp32', 'q8', 'fp16']).some((d) => d !== 'fp32')) {
  log('\n== engine, low precision: AST-Base per 10 s clip, q8 / fp16 vs fp32, transformers.js q8 and PyTorch int8 / bf16 ==');
  const runsAt = args.indexOf('--runs');
  const batchesAt = args.indexOf('--batches');
  const r = await benchLowPrecision({
    log,
    peers,
    torch: !args.includes('--no-torch'),
    dtypes,
    runs: runsAt >= 0 ? Number(args[runsAt + 1]) : undefined,
    batches: batchesAt >= 0 ? args[batchesAt + 1]!.split(',').map(Number) : undefined,
  });
  const peer = (p: Record<number, { msPerClip: number }> | string | undefined, batch: number) => (typeof p === 'object' ? p[batch]?.msPerClip : undefined);
  for (const [dtype, perBatch] of Object.entries(r.byDtype)) {
    if (dtype === 'fp32') continue;
    for (const [batch, o] of Object.entries(perBatch)) {
      const b = Number(batch);
      const fp32 = r.byDtype.fp32![b]!.msPerClip;
      const [tq8, ti8, tbf] = [peer(r.transformersJsQ8, b), peer(r.torchInt8, b), peer(r.torchBf16, b)];
      summary.push(
        `engine bs${batch}  ours ${dtype} ${o.msPerClip.toFixed(0)} ms/clip (${fmtRatio(o.msPerClip / fp32)} of ours fp32)` +
          (dtype === 'q8'
            ? `  transformers.js q8 ${tq8?.toFixed(0) ?? 'n/a'} (${fmtRatio(tq8 ? o.msPerClip / tq8 : null)})` +
              `  PyTorch int8 ${ti8?.toFixed(0) ?? 'n/a'} (${fmtRatio(ti8 ? o.msPerClip / ti8 : null)})  bf16 ${tbf?.toFixed(0) ?? 'n/a'} (${fmtRatio(tbf ? o.msPerClip / tbf : null)})`
            : ''),
      );
    }
  }
  const l32 = r.loads.fp32!;
  for (const [dtype, l] of Object.entries(r.loads)) {
    if (dtype === 'fp32') continue;
    const a = r.agreement[dtype as keyof typeof r.agreement];
    summary.push(
      `engine    ${dtype}: load ${l.ms.toFixed(0)} ms (${fmtRatio(l.ms / l32.ms)} of fp32), RSS after load ${l.rssAfterMB.toFixed(0)} MB (${fmtRatio(l.rssAfterMB / l32.rssAfterMB)}), peak RSS ${l.peakRssMB.toFixed(0)} MB (${fmtRatio(l.peakRssMB / l32.peakRssMB)})` +
        (a ? `; top-1 agreement ${(100 * a.base.top1).toFixed(0)} % (AST-Base), ${(100 * a.embedded.top1).toFixed(0)} % (embedded), max logit diff ${a.base.maxLogitDiff.toFixed(3)}` : ''),
    );
  }
}

if (wanted('train') && args.includes('--profile')) {
  const { profileTrainStep } = await import('./train-profile.js');
  const { DEFAULT_CASES } = await import('./train-cases.js');
  const runsAt = args.indexOf('--runs');
  log('\n== train --profile: where one AST-Base training step (256 frames, batch 8) spends its time ==');
  const r = await profileTrainStep(DEFAULT_CASES.find((c) => c.name.startsWith('AST-Base'))!, { log, runs: runsAt >= 0 ? Number(args[runsAt + 1]) : 2, keepProfile: args.includes('--keep-profile') });
  summary.push(`train     profile: ${r.stepMs.toFixed(0)} ms/step; see the table above`);
} else if (wanted('train')) {
  log('\n== train: one step (forward + backward + AdamW) per clip at batch 8 vs PyTorch ==');
  for (const r of await benchTrain({ log })) {
    summary.push(
      `train     ${r.name} bs${r.batch}  ours ${fmtMsPerClip(r.oursMsPerClip)} ms/clip` +
        `  PyTorch ${r.torchMsPerClip !== undefined ? fmtMsPerClip(r.torchMsPerClip) : (r.torchNote ?? 'n/a')}  ratio ${fmtRatio(r.ratio)}` +
        (r.oursPeakRssMb !== undefined && r.torchPeakRssMb !== undefined ? `  peak RSS ours ${r.oursPeakRssMb.toFixed(0)} MB, PyTorch ${r.torchPeakRssMb.toFixed(0)} MB` : ''),
    );
  }
}

if (wanted('serve')) {
  log('\n== serve: ast-audio serve under loopback load vs offline ast-audio classify --batch-size 8 ==');
  const flag = (name: string): string | undefined => (args.indexOf(name) >= 0 ? args[args.indexOf(name) + 1] : undefined);
  const models = flag('--serve-models')?.split(',') as ('embedded' | 'base')[] | undefined;
  const num = (name: string) => (flag(name) === undefined ? undefined : Number(flag(name)));
  const serveThreads = flag('--serve-threads')?.split(',').map(Number);
  for (const r of await benchServe({ log, models, soakSeconds: num('--soak-s'), rounds: num('--rounds'), levelSeconds: num('--level-s'), serveThreads })) {
    for (const s of r.served) {
      summary.push(
        `serve     ${r.model}  offline ${r.offlineClipsPerSecond.toFixed(1)} clips/s (${r.offlineCpuMsPerClip?.toFixed(2) ?? 'n/a'} ms CPU/clip; runs ${r.offlineRuns.map((x) => x.toFixed(0)).join(' / ')}); ` +
          `served --threads ${s.threads} ` +
          s.load
            .map((l) => `c${l.concurrency} ${l.clipsPerSecond.toFixed(1)} (${fmtRatio(l.clipsPerSecond / r.offlineClipsPerSecond)}, p99 ${l.p99Ms.toFixed(0)} ms, ${l.errors} err, ${l.serverCpuMsPerClip.toFixed(2)} ms CPU/clip)`)
            .join(', '),
      );
    }
    summary.push(`serve     ${r.model}  RSS ${r.rssStartMB.toFixed(0)} -> ${r.rssSoakStartMB.toFixed(0)} (soak start) -> ${r.rssAfterSoakMB.toFixed(0)} MB after ${r.soakSeconds} s, ${r.soakErrors} errors`);
  }
}

if (only?.has('browser')) {
  log('\n== browser: AST-Base forward per 10 s clip, batch 1, in headless Chromium (WASM threads, cross-origin isolated) vs transformers.js ==');
  const flag = (name: string): string | undefined => (args.indexOf(name) >= 0 ? args[args.indexOf(name) + 1] : undefined);
  const r = await benchBrowser({
    log,
    runs: flag('--runs') === undefined ? undefined : Number(flag('--runs')),
    threads: flag('--threads') === undefined ? undefined : Number(flag('--threads')),
    dtypes: dtypes?.filter((d): d is 'fp32' | 'q8' => d === 'fp32' || d === 'q8'),
    forceWebgpu: args.includes('--browser-webgpu'),
  });
  for (const row of r.rows) {
    const side = (s: typeof row.ours) => (typeof s === 'object' ? `${s.msPerClip.toFixed(0)} ms/clip, load ${s.loadMs.toFixed(0)} ms` : (s ?? 'n/a'));
    const ratio = typeof row.ours === 'object' && typeof row.tjs === 'object' ? row.ours.msPerClip / row.tjs.msPerClip : null;
    summary.push(
      `browser ${row.key.padEnd(11)} ours ${side(row.ours)}  transformers.js ${side(row.tjs)} (${fmtRatio(ratio)})` +
        (row.node && typeof row.ours === 'object' ? `  ours in Node ${row.node.msPerClip.toFixed(0)} ms/clip (Chromium ${fmtRatio(row.ours.msPerClip / row.node.msPerClip)} of Node)` : ''),
    );
  }
  summary.push(`browser   ${r.cpu}; Chromium ${r.chromium}; transformers.js ${r.transformersJs}; WebGPU: ${r.webgpu}`);
}

if (wantedTag('tag-stream')) {
  log('\n== tag-stream: classify --timeline over long 16 kHz WAVs, streamed: wall time and peak RSS ==');
  const flag = (name: string): string | undefined => (args.indexOf(name) >= 0 ? args[args.indexOf(name) + 1] : undefined);
  const hours = flag('--stream-hours')?.split(',').map(Number);
  const r = await benchTagStream({ log, hours, model: flag('--stream-model') });
  summary.push(
    `tag-stream ${r.model}  model ${r.modelRssMB.toFixed(0)} MB; ` +
      r.runs.map((x) => `${x.hours} h ${x.wallS.toFixed(0)} s (${x.audioHoursPerS.toFixed(2)} audio h/s) peak ${x.peakRssMB.toFixed(0)} MB`).join(', ') +
      (r.ratio === null ? '' : `; ${r.ratio.toFixed(3)}x, model + ${r.overModelMB!.toFixed(0)} MB: goal ${r.goalMet ? 'met' : 'NOT met'}`),
  );
}

if (wantedTag('tag-files')) {
  log('\n== tag-files: ast-audio tag, one process, generated 10 s clips (files/s, audio-hours/s) ==');
  const flag = (name: string): string | undefined => (args.indexOf(name) >= 0 ? args[args.indexOf(name) + 1] : undefined);
  for (const r of await benchTagFiles({
    log,
    files: flag('--tag-files') ? Number(flag('--tag-files')) : undefined,
    baseFiles: flag('--tag-base-files') ? Number(flag('--tag-base-files')) : undefined,
  })) {
    summary.push(
      `tag-files ${r.model}  ${r.filesPerSecond.toFixed(2)} files/s, ${r.audioHoursPerSecond.toPrecision(3)} audio-hours/s (${r.files} clips, 1 process); ` +
        `load average ${r.loadAverage.map((x) => x.toFixed(2)).join(' ')}`,
    );
  }
}

if (wantedTag('tag-queue')) {
  log('\n== tag-queue: ast-audio tag as 1 process vs 2 BullMQ workers on this machine ==');
  const flag = (name: string): string | undefined => (args.indexOf(name) >= 0 ? args[args.indexOf(name) + 1] : undefined);
  const r = await benchTagQueue({ log, files: flag('--queue-files') ? Number(flag('--queue-files')) : undefined, model: flag('--queue-model') as 'embedded' | 'base' | undefined });
  const two = typeof r.twoWorkers === 'string' ? r.twoWorkers : `${r.twoWorkers.filesPerSecond.toFixed(2)} files/s, ${r.twoWorkers.audioHoursPerSecond.toFixed(4)} audio-h/s (${fmtRatio(r.twoWorkers.filesPerSecond / r.single.filesPerSecond)})`;
  summary.push(
    `tag-queue ${r.model} ${r.files} x 10 s  1 process ${r.single.filesPerSecond.toFixed(2)} files/s, ${r.single.audioHoursPerSecond.toFixed(4)} audio-h/s; 2 workers ${two}` +
      `; Redis ${r.redisBytesPerWaitingJob?.toFixed(0) ?? 'n/a'} B/waiting job of 32 files; AudioSet-shaped Parquet ${r.audiosetBytesPerRow.toFixed(0)} B/row (${r.audiosetBytesPerRowWithEmbeddings.toFixed(0)} with embeddings)`,
  );
}

log('\n== summary (ratios: ours / peer, below 1 is faster) ==');
for (const line of summary) log(line);
