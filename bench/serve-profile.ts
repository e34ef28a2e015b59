/**
 * Where the CPU per clip goes, served vs offline, in CPU time (robust on a loaded machine):
 *
 *   node --import tsx bench/serve-profile.ts [--requests 640] [--concurrency 1,8,32] [--threads 2] [-- serve args]
 *
 * --threads is the offline side's (ORT threads, default 2); the server runs with its own defaults plus the serve
 * args after `--` (e.g. `-- --threads 2`).
 *
 * Offline, in this process: decode, features (fbank) and forwards (batch 8, the CLI's model as it loads) of the
 * embedded examples, process CPU per clip for each stage. Served: a real `ast-audio serve`, the split of its
 * CPU per clip by thread from its own /metrics (ast_audio_thread_cpu_seconds_total: http, pipeline, model,
 * other = ONNX Runtime's pool, GC, libuv), and the load generator's own CPU per request.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import '../src/node/index.js';
import { pipeline } from '../src/pipeline/audio-classification.js';
import { loadInput } from '../src/pipeline/inputs.js';
import { float32Tensor } from '../src/tensor.js';
import { REPO_ROOT } from '../test/helpers/fixtures.js';
import { startServer } from '../test/serve/server-process.js';
import { LoadGenerator } from './serve-load.js';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const requests = Number(flag('--requests') ?? 640);
const concurrencies = (flag('--concurrency') ?? '1,8,32').split(',').map(Number);
const threads = Number(flag('--threads') ?? 2);
const serveArgs = args.includes('--') ? args.slice(args.indexOf('--') + 1) : [];
const dir = join(REPO_ROOT, 'models/speech-commands/examples');
const bodies = readdirSync(dir).filter((f) => f.endsWith('.wav')).sort().map((f) => new Uint8Array(readFileSync(join(dir, f))));
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

console.log(`load average ${loadavg().map((v) => v.toFixed(1)).join(' / ')}`);

if (!args.includes('--no-offline')) {
  const classifier = await pipeline('audio-classification', undefined, { threads });
  const fe = classifier.featureExtractor;
  const n = Math.max(8, Math.floor(requests / 8) * 8);
  const decodeCpu = process.cpuUsage();
  const waves: Float32Array[] = [];
  for (let i = 0; i < n; i++) waves.push(await loadInput(bodies[i % bodies.length]!, fe.config.sampling_rate, 'clip'));
  const decode = cpuMs(process.cpuUsage(decodeCpu)) / n;
  const featCpu = process.cpuUsage();
  const rows = waves.map((w) => fe.extract(w, { samplingRate: fe.config.sampling_rate }).inputValues.data);
  const feats = cpuMs(process.cpuUsage(featCpu)) / n;
  const [T, M] = [fe.config.max_length, fe.config.num_mel_bins];
  const batch = (k: number) => {
    const x = new Float32Array(8 * T * M);
    for (let b = 0; b < 8; b++) x.set(rows[k + b]!, b * T * M);
    return float32Tensor([8, T, M], x);
  };
  await classifier.model.forward({ inputValues: batch(0) }); // warm-up
  const fwdCpu = process.cpuUsage();
  for (let k = 0; k < n; k += 8) await classifier.model.forward({ inputValues: batch(k) });
  const fwd = cpuMs(process.cpuUsage(fwdCpu)) / n;
  const runCpu = process.cpuUsage();
  for await (const item of classifier.run(bodies.flatMap((b) => Array.from({ length: Math.ceil(n / bodies.length) }, () => b)), { batchSize: 8 })) if (item.error) throw item.error;
  const whole = cpuMs(process.cpuUsage(runCpu)) / (Math.ceil(n / bodies.length) * bodies.length);
  console.log(`offline (${n} clips, batch 8): decode ${decode.toFixed(2)} + features ${feats.toFixed(2)} + forward ${fwd.toFixed(2)} ms CPU/clip; pipeline.run on bytes ${whole.toFixed(2)} ms CPU/clip`);
  await classifier.dispose();
}

const server = await startServer(['--max-queue', '1024', ...serveArgs], {}, 60_000, [], true); // logs to /dev/null: reading them would cost this process CPU
const gen = new LoadGenerator(server.url, bodies, Math.max(...concurrencies));
try {
  await gen.drive(4, 64); // warm connections and sessions
  for (const c of concurrencies) {
    const before = await scrape(server.url);
    const r = await gen.drive(c, requests);
    const after = await scrape(server.url);
    const per = (k: string) => (((after[k] ?? NaN) - (before[k] ?? NaN)) * 1000) / r.requests;
    const split = ['http', 'pipeline', 'model', 'other'].map((t) => `${t} ${per(`thread:${t}`).toFixed(2)}`).join(', ');
    const batches = (after.batchSum! - before.batchSum!) / (after.batchCount! - before.batchCount!);
    console.log(
      `served c=${String(c).padStart(2)}: ${r.clipsPerSecond.toFixed(0)} clips/s, ${r.errors} errors; server ${per('cpu').toFixed(2)} ms CPU/clip (${split}); ` +
        `mean batch ${batches.toFixed(1)}; load generator ${r.clientCpuMsPerRequest.toFixed(2)} ms CPU/request; load average ${loadavg()[0]!.toFixed(1)}`,
    );
  }
} finally {
  await gen.close();
  await server.stop();
}

async function scrape(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  const out: Record<string, number> = {
    cpu: value(/^ast_audio_process_cpu_seconds_total (\S+)$/m),
    batchSum: value(/^ast_audio_batch_size_sum (\S+)$/m),
    batchCount: value(/^ast_audio_batch_size_count (\S+)$/m),
  };
  for (const m of text.matchAll(/^ast_audio_thread_cpu_seconds_total\{thread="(\w+)"\} (\S+)$/gm)) out[`thread:${m[1]}`] = Number(m[2]);
  return out;
}
