/**
 * `ast-audio serve` as a real process on a free loopback port: every route and status, the answers of
 * `ast-audio classify` under 64 concurrent requests (dynamic batching), limits (429, 413, 503, 400 for
 * each bad file the decoder tests use), a failing forward, and SIGTERM in the middle of a burst.
 * Request counts are bounded and everything stays on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fixturesDir, REPO_ROOT } from '../helpers/fixtures.js';
import { pcm16Wav } from '../helpers/pcm16-wav.js';
import { dataChunk, floatBytes, fmtChunk, riff } from '../audio/wav-bytes.js';
import { startServer, type ServerProcess } from './server-process.js';

const EXAMPLES = join(REPO_ROOT, 'models/speech-commands/examples');
const exampleFiles = readdirSync(EXAMPLES).filter((f) => f.endsWith('.wav')).sort();
const exampleBytes = new Map(exampleFiles.map((f) => [f, readFileSync(join(EXAMPLES, f))]));

interface Label {
  label: string;
  score: number;
}

/** One POST of audio bytes; never throws for an HTTP status. */
async function post(url: string, body: Uint8Array, headers: Record<string, string> = { 'content-type': 'audio/wav' }) {
  const res = await fetch(url, { method: 'POST', body: new Uint8Array(body), headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as unknown };
}

/** Counter values from the Prometheus text, keyed by the label set as printed. */
function metric(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (m) out.set(m[1] ?? '', Number(m[2]));
  }
  return out;
}

/** A long clip: `seconds` of a swept tone, so each request has many 1 s windows. */
function longClip(seconds: number): Uint8Array {
  const x = new Float32Array(seconds * 16000).map((_, i) => 0.3 * Math.sin((2 * Math.PI * (200 + (i % 16000) / 40) * i) / 16000));
  return pcm16Wav(x, 16000);
}

describe('ast-audio serve', { timeout: 120_000 }, () => {
  let main: ServerProcess;
  let tight: ServerProcess;
  let slow: ServerProcess;
  /** `ast-audio classify --json --top-k all` on the embedded examples: what /classify must answer. */
  const reference = new Map<string, Label[]>();
  /** What this file sent to `main`, by "route status", to check the request counters. */
  const sent = new Map<string, number>();
  const count = (route: string, status: number) => sent.set(`${route} ${status}`, (sent.get(`${route} ${status}`) ?? 0) + 1);

  before(async () => {
    [main, tight, slow] = await Promise.all([
      startServer(['--max-batch', '8', '--max-delay-ms', '20', '--max-body-mb', '1', '--threads', '1']),
      // forward #2 fails (injected), and only one request is admitted at a time; no --threads: the default
      startServer(['--max-queue', '1'], { AST_AUDIO_SERVE_FAIL_FORWARD: '2' }),
      startServer(['--timeout-s', '0.001', '--threads', '1']),
    ]);
    const cli = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), 'classify', EXAMPLES, '--json', '--top-k', '12', '--threads', '1'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    assert.equal(cli.status, 0, cli.stderr);
    const doc = JSON.parse(cli.stdout) as { results: { file: string; labels: Label[] }[] };
    for (const r of doc.results) reference.set(r.file.split('/').pop()!, r.labels);
    assert.equal(reference.size, exampleFiles.length);
  });
  after(async () => {
    await Promise.all([main, tight, slow].map((s) => s?.stop()));
  });

  it('health, info, openapi; the ready line printed the URL', async () => {
    for (const path of ['/health/live', '/health/ready']) {
      const res = await fetch(main.url + path);
      assert.equal(res.status, 200, path);
    }
    assert.deepEqual(await (await fetch(`${main.url}/health/ready`)).json(), { status: 'ready' });
    const info = (await (await fetch(`${main.url}/info`)).json()) as Record<string, unknown>;
    const config = JSON.parse(readFileSync(join(REPO_ROOT, 'models/speech-commands/config.json'), 'utf8')) as { id2label: Record<string, string>; max_length: number };
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.deepEqual(info.labels, Object.keys(config.id2label).sort((a, b) => Number(a) - Number(b)).map((k) => config.id2label[k]));
    assert.equal(info.max_length, config.max_length);
    assert.equal(info.dtype, 'fp32');
    assert.equal(info.version, pkg.version);
    assert.match(String(info.model), /speech-commands/);
    assert.equal(info.threads, 1, '--threads 1');
    // without --threads a small model's forwards leave one core to the HTTP and pipeline threads
    const tightInfo = (await (await fetch(`${tight.url}/info`)).json()) as Record<string, unknown>;
    assert.equal(tightInfo.threads, Math.max(1, availableParallelism() - 1));
    const api = (await (await fetch(`${main.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    assert.equal(api.openapi, '3.1.0');
    assert.deepEqual(Object.keys(api.paths).sort(), ['/classify', '/embed', '/health/live', '/health/ready', '/info', '/metrics', '/openapi.json']);
    assert.match(main.stderr(), /ready on http:\/\/127\.0\.0\.1:\d+/);
  });

  it('64 concurrent /classify of the embedded examples: all 200 with the labels and scores of `ast-audio classify`', async () => {
    const files = Array.from({ length: 64 }, (_, i) => exampleFiles[i % exampleFiles.length]!);
    const answers = await Promise.all(files.map((f) => post(`${main.url}/classify?top_k=all`, exampleBytes.get(f)!)));
    answers.forEach((a, i) => {
      count('/classify', a.status);
      assert.equal(a.status, 200, a.text);
      const got = a.json() as Label[];
      const want = reference.get(files[i]!)!;
      assert.deepEqual(got.map((l) => l.label), want.map((l) => l.label), files[i]);
      got.forEach((l, k) => assert.ok(Math.abs(l.score - want[k]!.score) <= 1e-5, `${files[i]} ${l.label}: ${l.score} vs ${want[k]!.score}`));
    });
  });

  it('/classify: top_k, multipart `file`, timeline over a long clip', async () => {
    const yes = exampleBytes.get('yes.wav')!;
    const top2 = await post(`${main.url}/classify?top_k=2`, yes, { 'content-type': 'application/octet-stream' });
    count('/classify', top2.status);
    assert.deepEqual(top2.json(), reference.get('yes.wav')!.slice(0, 2).map((l) => ({ label: l.label, score: (top2.json() as Label[]).find((g) => g.label === l.label)!.score })));
    const form = new FormData();
    form.append('file', new Blob([yes], { type: 'audio/wav' }), 'yes.wav');
    const res = await fetch(`${main.url}/classify`, { method: 'POST', body: form });
    count('/classify', res.status);
    const viaForm = (await res.json()) as Label[];
    assert.equal(res.status, 200);
    assert.equal(viaForm.length, 5); // the default top_k
    assert.equal(viaForm[0]!.label, reference.get('yes.wav')![0]!.label);
    const tl = await post(`${main.url}/classify?timeline=true&top_k=1&hop=0.5`, longClip(3));
    count('/classify', tl.status);
    assert.equal(tl.status, 200, tl.text);
    const doc = tl.json() as { labels: Label[]; windows: { start: number; end: number; labels: Label[] }[] };
    assert.equal(doc.labels.length, 1);
    assert.ok(doc.windows.length >= 5, `${doc.windows.length} windows`);
    // a window is max_length (100) frames: 99 shifts of 10 ms plus one 25 ms frame; the hop is 0.5 s
    assert.deepEqual([doc.windows[0]!.start, doc.windows[0]!.end, doc.windows[1]!.start], [0, 0.99 + 0.025, 0.5]);
    assert.ok(doc.windows.every((w) => w.labels.length === 1));
  });

  it('the HTTP thread answers /health/live and /metrics while long requests are being classified', async () => {
    let finished = 0;
    const clip = longClip(30); // 30 windows each, 120 in all: many forwards
    const longs = Array.from({ length: 4 }, () => post(`${main.url}/classify`, clip).then((r) => (finished++, r)));
    // wait until the server has admitted all four (its own gauge), then ask for liveness
    for (let depth = 0; depth < 4; ) {
      depth = metric(await (await fetch(`${main.url}/metrics`)).text(), 'ast_audio_queue_depth').get('') ?? 0;
      if (finished > 0) break;
    }
    const live = await fetch(`${main.url}/health/live`);
    assert.equal(live.status, 200);
    assert.ok(finished < 4, 'answered while the long requests were still being classified');
    for (const r of await Promise.all(longs)) {
      count('/classify', r.status);
      assert.equal(r.status, 200);
    }
  });

  it('/embed: JSON and little-endian float32 agree; hidden_size values', async () => {
    const yes = exampleBytes.get('yes.wav')!;
    const asJson = await post(`${main.url}/embed`, yes);
    count('/embed', asJson.status);
    const { embedding, hidden_size } = asJson.json() as { embedding: number[]; hidden_size: number };
    const config = JSON.parse(readFileSync(join(REPO_ROOT, 'models/speech-commands/config.json'), 'utf8')) as { hidden_size: number };
    assert.equal(hidden_size, config.hidden_size);
    assert.equal(embedding.length, config.hidden_size);
    const raw = await fetch(`${main.url}/embed`, { method: 'POST', body: yes, headers: { 'content-type': 'audio/wav', accept: 'application/octet-stream' } });
    count('/embed', raw.status);
    assert.equal(raw.headers.get('content-type'), 'application/octet-stream');
    assert.equal(raw.headers.get('x-embedding-dims'), String(config.hidden_size));
    const buf = Buffer.from(await raw.arrayBuffer());
    assert.equal(buf.length, 4 * config.hidden_size);
    // the same clip in another batch: equal within float32 batching noise
    embedding.forEach((v, i) => assert.ok(Math.abs(buf.readFloatLE(4 * i) - v) <= 1e-5, `dim ${i}`));
  });

  it('400 with {error, detail} for each bad audio file of the decoder tests, bad options, and a wrong form field', async () => {
    const flac = readFileSync(join(REPO_ROOT, 'test/data/audio/tone_stereo_16k.flac'));
    const wav = readFileSync(join(REPO_ROOT, 'test/data/audio/tone_stereo_16k.wav'));
    const enc = (text: string): number[] => [...text].map((c) => c.charCodeAt(0));
    const m4a = new Uint8Array(64);
    m4a.set([0, 0, 0, 0x20, ...enc('ftypM4A ')]); // an MP4 box header, no audio track
    const cases: [string, Uint8Array, RegExp][] = [
      ['empty', new Uint8Array(0), /empty/],
      ['unknown bytes', new Uint8Array(100).fill(7), /unrecognised format/],
      ['AIFF without chunks', new Uint8Array([...enc('FORM'), 0, 0, 0, 40, ...enc('AIFF'), ...new Array(36).fill(0)]), /no audio samples decoded from this AIFF file/],
      ['MIDI', new Uint8Array([...enc('MThd'), 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, ...enc('MTrk'), 0, 0, 0, 0]), /unsupported codec: MIDI/],
      ['M4A without audio', m4a, /No audio track/],
      ['truncated FLAC', flac.subarray(0, 2000), /no audio samples decoded/],
      ['cut WAV', wav.subarray(0, 30), /fmt chunk claims 16 bytes but only 10 follow/],
      ['too short (20 ms)', readFileSync(join(fixturesDir, 'audio/tiny_16k.wav')), /shorter than one 25 ms analysis frame/],
      ['NaN sample', riff([fmtChunk({ tag: 3, channels: 1, rate: 16000, bits: 32 }), dataChunk(floatBytes([0.1, 0.2, NaN, 0.3], 4))]), /sample 2.*NaN/],
      ['Inf sample', riff([fmtChunk({ tag: 3, channels: 1, rate: 16000, bits: 32 }), dataChunk(floatBytes([0.1, Infinity, 0.3], 4))]), /sample 1.*Infinity/],
    ];
    for (const route of ['/classify', '/embed']) {
      for (const [name, body, detail] of cases) {
        const r = await post(main.url + route, body);
        count(route, r.status);
        assert.equal(r.status, 400, `${route} ${name}: ${r.text}`);
        const e = r.json() as { error: string; detail: string };
        assert.equal(e.error, 'bad audio');
        assert.match(e.detail, detail, `${route} ${name}`);
      }
    }
    const yes = exampleBytes.get('yes.wav')!;
    for (const q of ['top_k=0', 'top_k=x', 'function=relu', 'aggregate=median', 'window=-1', 'window=5', 'timeline=maybe']) {
      const r = await post(`${main.url}/classify?${q}`, yes);
      count('/classify', r.status);
      assert.equal(r.status, 400, `${q}: ${r.text}`);
      assert.ok((r.json() as { detail: string }).detail.length > 0);
    }
    const form = new FormData();
    form.append('audio', new Blob([yes]), 'yes.wav');
    const wrongField = await fetch(`${main.url}/classify`, { method: 'POST', body: form });
    count('/classify', wrongField.status);
    assert.equal(wrongField.status, 400);
    assert.match(((await wrongField.json()) as { detail: string }).detail, /"file" field/);
    const asJson = await post(`${main.url}/classify`, new TextEncoder().encode('{}'), { 'content-type': 'application/json' });
    count('/classify', asJson.status);
    assert.equal(asJson.status, 415);
  });

  it('413 over --max-body-mb, raw and multipart, without reading the whole body', async () => {
    const big = new Uint8Array(1.5 * 2 ** 20);
    const raw = await post(`${main.url}/classify`, big);
    count('/classify', raw.status);
    assert.equal(raw.status, 413);
    assert.match((raw.json() as { detail: string }).detail, /--max-body-mb 1/);
    const form = new FormData();
    form.append('file', new Blob([big]), 'big.wav');
    const viaForm = await fetch(`${main.url}/embed`, { method: 'POST', body: form });
    count('/embed', viaForm.status);
    assert.equal(viaForm.status, 413, await viaForm.text());
    // a declared 1 GiB body: the answer comes after the first 64 KiB, long before the rest could arrive
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${main.url}/classify`, { method: 'POST', headers: { 'content-type': 'audio/wav', 'content-length': String(2 ** 30) } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
        req.destroy();
      });
      req.on('error', reject);
      req.write(new Uint8Array(64 * 1024));
    });
    count('/classify', status);
    assert.equal(status, 413);
  });

  it('404 for an unknown route, 405 with Allow for a wrong method', async () => {
    const nf = await fetch(`${main.url}/nope`);
    assert.equal(nf.status, 404);
    assert.deepEqual(Object.keys((await nf.json()) as object).sort(), ['detail', 'error']);
    const na = await fetch(`${main.url}/classify`);
    assert.equal(na.status, 405);
    assert.equal(na.headers.get('allow'), 'POST');
    const na2 = await fetch(`${main.url}/metrics`, { method: 'DELETE' });
    assert.equal(na2.status, 405);
  });

  it('/metrics: request counts equal what was sent; batches larger than 1; histograms and process metrics', async () => {
    const text = await (await fetch(`${main.url}/metrics`)).text();
    const requests = metric(text, 'ast_audio_http_requests_total');
    for (const [key, n] of sent) {
      const [route, status] = key.split(' ');
      assert.equal(requests.get(`{route="${route}",method="POST",status="${status}"}`), n, key);
    }
    const posted = [...requests].filter(([k]) => k.includes('method="POST"')).reduce((s, [, v]) => s + v, 0);
    assert.equal(posted, [...sent.values()].reduce((a, b) => a + b, 0));
    const sizes = metric(text, 'ast_audio_batch_size_bucket');
    const batches = metric(text, 'ast_audio_batch_size_count').get('')!;
    assert.ok(batches - sizes.get('{le="1"}')! > 0, 'some forwards carried more than one window');
    assert.ok(metric(text, 'ast_audio_batch_size_sum').get('')! > batches, 'mean batch size > 1');
    for (const name of ['ast_audio_queue_depth', 'ast_audio_queue_wait_seconds_count', 'ast_audio_compute_seconds_count', 'ast_audio_process_resident_memory_bytes']) {
      assert.ok(metric(text, name).size > 0, name);
    }
    assert.equal(metric(text, 'ast_audio_queue_depth').get(''), 0);
  });

  it('/metrics: CPU seconds by thread, each within what the kernel reports for one of the process\'s threads', { skip: process.platform !== 'linux' }, async () => {
    // read every thread's run time from /proc just before and just after the scrape: each thread's counter
    // must lie between the two readings of one thread (the HTTP one is the process's main thread)
    const pid = main.child.pid!;
    const runTimes = () =>
      new Map(
        readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
          try {
            return [[Number(tid), Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e9] as const];
          } catch {
            return []; // a thread that ended meanwhile
          }
        }),
      );
    const before = runTimes();
    const text = await (await fetch(`${main.url}/metrics`)).text();
    const after = runTimes();
    const cpu = metric(text, 'ast_audio_thread_cpu_seconds_total');
    const within = (tid: number, s: number) => before.has(tid) && after.has(tid) && before.get(tid)! - 1e-6 <= s && s <= after.get(tid)! + 1e-6;
    assert.ok(within(pid, cpu.get('{thread="http"}')!), `http ${cpu.get('{thread="http"}')} s`);
    for (const thread of ['pipeline', 'model']) {
      const s = cpu.get(`{thread="${thread}"}`)!;
      assert.ok(s > 0 && [...before.keys()].some((tid) => tid !== pid && within(tid, s)), `${thread} ${s} s matches no thread's run time`);
    }
    // the rest of the process (ONNX Runtime's pool, GC, libuv): at most the process's CPU since it started (the
    // kernel's utime + stime in 100 Hz ticks, read after the scrape) less the three
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const total = (Number(fields[11]) + Number(fields[12])) / 100;
    const named = ['http', 'pipeline', 'model'].reduce((s, t) => s + cpu.get(`{thread="${t}"}`)!, 0);
    const other = cpu.get('{thread="other"}')!;
    assert.ok(other > 0 && other <= total - named + 0.02, `other ${other} s; process ${total} s, the three ${named} s`);
  });

  it('a failing forward: 500 for its batch only, and the server keeps serving; --max-queue 1 gives 429s and no 5xx', async () => {
    const yes = exampleBytes.get('yes.wav')!;
    const first = await post(`${tight.url}/classify`, yes);
    assert.equal(first.status, 200);
    const failed = await post(`${tight.url}/classify`, yes); // forward #2 fails (injected)
    assert.equal(failed.status, 500);
    assert.equal((failed.json() as { error: string }).error, 'inference failed');
    const again = await post(`${tight.url}/classify`, yes);
    assert.equal(again.status, 200);
    const burst = await Promise.all(Array.from({ length: 16 }, () => post(`${tight.url}/classify`, yes)));
    const statuses = burst.map((r) => r.status);
    assert.ok(statuses.includes(429), statuses.join(' '));
    assert.ok(statuses.includes(200), statuses.join(' '));
    assert.ok(statuses.every((s) => s === 200 || s === 429), statuses.join(' '));
    const refused = burst.find((r) => r.status === 429)!;
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal((refused.json() as { error: string }).error, 'queue full');
    const text = await (await fetch(`${tight.url}/metrics`)).text();
    assert.equal(metric(text, 'ast_audio_forward_failures_total').get(''), 1);
    assert.equal(metric(text, 'ast_audio_rejected_total').get('{reason="queue_full"}'), statuses.filter((s) => s === 429).length);
  });

  it('503 when a request waits past --timeout-s; the server stays healthy', async () => {
    const r = await post(`${slow.url}/classify`, exampleBytes.get('yes.wav')!);
    assert.equal(r.status, 503, r.text);
    assert.equal((r.json() as { error: string }).error, 'timeout');
    assert.equal((await fetch(`${slow.url}/health/ready`)).status, 200);
  });

  it('pino JSON logs carry a request id on every request line', () => {
    const lines = main.logs().filter((l) => l.msg === 'request completed');
    assert.ok(lines.length > 64);
    assert.ok(lines.every((l) => typeof l.reqId === 'string' && /^req-\d+$/.test(l.reqId as string)));
  });
});

describe('ast-audio serve: SIGTERM in the middle of a burst', { timeout: 120_000 }, () => {
  it('every accepted request gets its answer and the process exits 0', async () => {
    const server = await startServer(['--max-batch', '8', '--threads', '1']);
    const clip = longClip(20); // 20 windows each: the burst lasts long enough to be interrupted
    let firstAnswer: () => void;
    const answered = new Promise<void>((resolve) => (firstAnswer = resolve));
    const burst = Array.from({ length: 24 }, (_, i) =>
      new Promise((r) => setTimeout(r, i * 20)).then(() =>
        post(`${server.url}/classify`, clip).then(
          (r) => (firstAnswer(), r.status),
          (err: Error) => `refused: ${(err.cause as Error | undefined)?.message ?? err.message}`,
        ),
      ),
    );
    await answered;
    server.child.kill('SIGTERM');
    const outcomes = await Promise.all(burst);
    const code = await server.exited;
    assert.equal(code, 0, server.stderr());
    const logs = server.logs();
    const accepted = logs.filter((l) => l.msg === 'incoming request').map((l) => l.reqId);
    const done = new Map(logs.filter((l) => l.msg === 'request completed').map((l) => [l.reqId, (l.res as { statusCode: number }).statusCode]));
    assert.ok(accepted.length > 1);
    for (const id of accepted) assert.ok(done.has(id), `${String(id)} accepted but never answered`);
    // what the server accepted before the signal was classified; what came after was turned away, never failed
    const ok = outcomes.filter((o) => o === 200).length;
    assert.ok(ok >= 2, outcomes.join(' '));
    assert.ok(outcomes.every((o) => o === 200 || o === 503 || String(o).startsWith('refused')), outcomes.join(' '));
    assert.equal(ok, [...done.values()].filter((s) => s === 200).length);
    assert.ok(logs.some((l) => l.msg === 'stopping: no new requests; answering the accepted ones' && l.signal === 'SIGTERM'));
  });
});

describe('ast-audio serve: start-up errors', { timeout: 60_000 }, () => {
  it('a bad flag is one usage line; a model that cannot load is one line and exit 1', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), 'serve', '--port', '0', ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
    const flag = run('--max-batch', '0');
    assert.equal(flag.status, 1);
    assert.equal(flag.stderr.trim().split('\n').length, 1, flag.stderr);
    assert.match(flag.stderr, /--max-batch must be a positive integer, got "0"/);
    const missing = run('-m', '/nonexistent-model-dir');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^ast-audio serve: cannot load the model: \/nonexistent-model-dir: no such folder/m);
  });
});
