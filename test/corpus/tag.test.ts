/**
 * `ast-audio tag` through the real process (node --import tsx src/cli/main.ts), on audio this test
 * writes: every good file exactly once and every broken one in errors.jsonl; a run SIGKILLed mid-way and
 * run again equals an uninterrupted run; the Parquet shards, read back with hyparquet, hold what
 * `ast-audio classify --json` and `ast-audio embed` print for the same files (not what tag printed
 * before); shard folders merge with each file once; a Parquet dataset in Hugging Face's layout is read by
 * `tag`, `train` and `eval` with the same results as the same clips in class folders.
 * The embedded speech-commands model (1 s windows) keeps this to about a minute on 2 cores.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { parseNpy } from '../../src/io/npy.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { pcm16Wav } from '../helpers/pcm16-wav.js';

const EXAMPLES = join(REPO_ROOT, 'models/speech-commands/examples');
const WORDS = ['down', 'go', 'left', 'no', 'off', 'on', 'right', 'stop', 'up', 'yes'];

function cli(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 300_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A seeded generator, so the corpus is the same every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function exampleSamples(word: string): Float32Array {
  const bytes = readFileSync(join(EXAMPLES, `${word}.wav`));
  const pcm = new Int16Array(bytes.buffer.slice(bytes.byteOffset + 44, bytes.byteOffset + bytes.length));
  return Float32Array.from(pcm, (s) => s / 32768);
}

interface Row {
  path: string;
  size: bigint | number;
  mtime_ms: bigint | number;
  sha256: string;
  duration_s: number;
  sampling_rate: number;
  labels: { label: string; score: number }[];
  scores?: number[];
  timeline?: { start: number; end: number; labels: { label: string; score: number }[] }[];
  embedding?: number[];
}

/** Every row of a folder's Parquet shards, read with hyparquet (the library, not our reader). */
async function readRows(dir: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (const f of readdirSync(dir).filter((n) => /^part-.*\.parquet$/.test(n)).sort()) {
    const bytes = readFileSync(join(dir, f));
    rows.push(...((await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) })) as unknown as Row[]));
  }
  return rows;
}

const key = (r: { path: string; size: bigint | number; mtime_ms: bigint | number }) => `${r.path}|${r.size}|${r.mtime_ms}`;

function readErrors(dir: string): { path: string; error: string }[] {
  return readFileSync(join(dir, 'errors.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l) as { path: string; error: string });
}

function assertClose(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tolerance ${tol})`);
}

describe('ast-audio tag', { timeout: 600_000 }, () => {
  let dir: string;
  let corpus: string;
  const good: string[] = [];
  const broken = new Map<string, RegExp>();
  const rates = new Map<string, number>();

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ast-tag-'));
    corpus = join(dir, 'corpus');
    mkdirSync(join(corpus, 'sub'), { recursive: true });
    const rand = lcg(13);
    // 185 good clips: 0.3-1.8 s of a spoken word, noise or a tone, at 16, 8 or 44.1 kHz (some two windows long).
    for (let i = 0; i < 185; i++) {
      const rate = [16000, 16000, 8000, 44100][i % 4]!;
      const seconds = 0.3 + 1.5 * rand();
      const n = Math.round(seconds * rate);
      const word = exampleSamples(WORDS[i % WORDS.length]!);
      const x = new Float32Array(n);
      const kind = i % 3;
      for (let t = 0; t < n; t++) {
        const noise = (rand() - 0.5) * 0.05;
        if (kind === 0) x[t] = (word[Math.floor((t * 16000) / rate) % word.length] ?? 0) + noise;
        else if (kind === 1) x[t] = noise * 6;
        else x[t] = 0.3 * Math.sin((2 * Math.PI * (200 + 37 * i) * t) / rate) + noise;
      }
      const path = join(corpus, i % 5 === 0 ? 'sub' : '', `clip-${String(i).padStart(3, '0')}.wav`);
      writeFileSync(path, pcm16Wav(x, rate));
      good.push(path);
      rates.set(path, rate);
    }
    // 15 broken: truncated WAVs (in the header, and in the data), garbage bytes, empty files.
    const sample = pcm16Wav(exampleSamples('yes'), 16000);
    for (let i = 0; i < 5; i++) {
      const path = join(corpus, `truncated-${i}.wav`);
      writeFileSync(path, sample.subarray(0, i < 2 ? 20 + i : 4000 + 1000 * i));
      broken.set(path, /truncated/);
    }
    for (let i = 0; i < 5; i++) {
      const path = join(corpus, `garbage-${i}.wav`);
      writeFileSync(path, Uint8Array.from({ length: 3000 }, () => Math.floor(rand() * 256)));
      broken.set(path, /unrecognised format|not|unsupported|cannot/i);
    }
    for (let i = 0; i < 5; i++) {
      const path = join(corpus, `empty-${i}.wav`);
      writeFileSync(path, new Uint8Array(0));
      broken.set(path, /empty file/);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  let uninterrupted: Row[];

  it('tags 200 files: every good file exactly once, every broken one in errors.jsonl with its reason', async () => {
    const out = join(dir, 'a');
    const r = cli(['tag', corpus, '--out', out, '--shard-size', '50', '--batch-size', '4', '--no-progress']);
    assert.equal(r.status, 2, `exit 2: some files failed\n${r.stderr}`);
    uninterrupted = await readRows(out);
    assert.equal(uninterrupted.length, good.length);
    assert.deepEqual(uninterrupted.map((x) => x.path).sort(), [...good].sort());
    assert.equal(new Set(uninterrupted.map(key)).size, good.length, 'each file once');
    const errors = readErrors(out);
    assert.deepEqual(errors.map((e) => e.path).sort(), [...broken.keys()].sort());
    for (const e of errors) {
      assert.ok(e.error.includes(e.path), `the error names the file: ${e.error}`);
      assert.match(e.error, broken.get(e.path)!);
    }
    assert.equal(readdirSync(out).filter((n) => n.endsWith('.parquet')).length, 4, '185 rows in shards of 50');
    const manifest = JSON.parse(readFileSync(join(out, '_manifest.json'), 'utf8')) as { counts: { rows: number; errors: number }; model: string; labels: string[] };
    assert.deepEqual([manifest.counts.rows, manifest.counts.errors], [185, 15]);
    assert.equal(manifest.labels.length, 12);

    // The same command again: nothing to do, nothing added.
    const again = cli(['tag', corpus, '--out', out, '--shard-size', '50', '--batch-size', '4', '--no-progress']);
    assert.equal(again.status, 2, again.stderr);
    assert.match(again.stderr, /0 files to tag, 200 already in/);
    assert.equal((await readRows(out)).length, good.length);
    assert.equal(readErrors(out).length, broken.size);
  });

  /** Starts `tag` into `out`, sends `signal` once `shards` shards are on disk, and returns how it exited. */
  async function interrupt(out: string, shards: number, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
    const args = ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), 'tag', corpus, '--out', out, '--shard-size', '20', '--no-progress'];
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    let running = true;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
      child.on('close', (code, sig) => {
        running = false;
        res({ code, signal: sig });
      }),
    );
    for (;;) {
      let names: string[] = [];
      try {
        names = readdirSync(out);
      } catch {
        // not created yet
      }
      if (names.filter((n) => /^part-\d+\.parquet$/.test(n)).length >= shards) break;
      assert.ok(running, `the run ended before it could be interrupted mid-way: ${stderr}`);
      await new Promise((res) => setTimeout(res, 20));
    }
    child.kill(signal);
    return { ...(await exited), stderr };
  }

  it('Ctrl-C writes the shard in progress and exits 130; SIGKILL loses only its shard; the same command again gives the same rows', async () => {
    const out = join(dir, 'b');
    // SIGINT once a shard is written: the files in flight finish, the partial shard is written, exit 130
    const int = await interrupt(out, 1, 'SIGINT');
    assert.equal(int.code, 130, int.stderr);
    assert.match(int.stderr, /SIGINT: finishing the files in flight/);
    const afterInt = await readRows(out);
    assert.ok(afterInt.length >= 20 && afterInt.length < good.length, `stopped mid-way: ${afterInt.length} rows`);
    assert.deepEqual(readdirSync(out).filter((n) => n.startsWith('.')), [], 'no temporary file left');
    const counted = JSON.parse(readFileSync(join(out, '_manifest.json'), 'utf8')) as { counts: { rows: number } };
    assert.equal(counted.counts.rows, afterInt.length, 'the manifest counts the rows on disk');

    // the same command, SIGKILLed once two more shards are on disk: every named shard is whole
    const shardsBefore = readdirSync(out).filter((n) => n.endsWith('.parquet')).length;
    const kill = await interrupt(out, shardsBefore + 2, 'SIGKILL');
    assert.equal(kill.signal, 'SIGKILL');
    const partial = await readRows(out); // a half-written shard would not parse
    assert.ok(partial.length > afterInt.length && partial.length < good.length, `killed mid-way: ${partial.length} rows`);
    assert.equal(new Set(partial.map(key)).size, partial.length, 'no file twice');

    const r = cli(['tag', corpus, '--out', out, '--shard-size', '20', '--no-progress']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /already in/);
    const rows = await readRows(out);
    assert.equal(rows.length, good.length, 'each file once after the resume');
    assert.equal(new Set(rows.map(key)).size, good.length);
    const byKey = new Map(uninterrupted.map((x) => [key(x), x]));
    for (const row of rows) {
      const ref = byKey.get(key(row));
      assert.ok(ref, `${row.path} is a row of the uninterrupted run`);
      assert.equal(row.sha256, ref.sha256);
      assert.deepEqual(row.labels.map((l) => l.label), ref.labels.map((l) => l.label), row.path);
      // batches differ (batch size 1 here, 4 there): float32 GEMM order, nothing more
      row.labels.forEach((l, i) => assertClose(l.score, ref.labels[i]!.score, 1e-5, `${row.path} ${l.label}`));
    }
    assert.deepEqual(readErrors(out).map((e) => e.path).sort(), [...broken.keys()].sort());
    assert.deepEqual(readdirSync(out).filter((n) => n.startsWith('.')), [], 'no temporary file left');
  });

  it('writes typed Parquet columns holding what classify --json and embed print for the same files', async () => {
    // a 16 kHz one-window clip, an 8 kHz, a 44.1 kHz and a two-window clip
    const picks = good.filter((_, i) => [0, 1, 3, 4, 5].includes(i));
    const twoWindows = good.find((p) => statSync(p).size > 44 + 2 * 1.2 * (rates.get(p) ?? 16000))!;
    picks.push(twoWindows);
    const out = join(dir, 'c');
    const r = cli(['tag', ...picks, '--out', out, '--all-scores', '--timeline', '--embeddings', '--top-k', '3', '--no-progress']);
    assert.equal(r.status, 0, r.stderr);
    const shard = readFileSync(join(out, 'part-00000.parquet'));
    const file = shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.length);
    const schema = parquetSchema(parquetMetadata(file));
    const columns = Object.fromEntries(schema.children.map((c) => [c.element.name, c]));
    assert.deepEqual(Object.keys(columns), ['path', 'size', 'mtime_ms', 'sha256', 'duration_s', 'sampling_rate', 'labels', 'scores', 'timeline', 'embedding']);
    assert.equal(columns.path!.element.converted_type, 'UTF8');
    assert.equal(columns.size!.element.type, 'INT64');
    assert.equal(columns.duration_s!.element.type, 'DOUBLE');
    assert.equal(columns.sampling_rate!.element.type, 'INT32');
    for (const list of ['labels', 'scores', 'timeline', 'embedding']) assert.equal(columns[list]!.element.converted_type, 'LIST', list);
    const element = (name: string) => columns[name]!.children[0]!.children[0]!;
    assert.deepEqual(element('labels').children.map((c) => [c.element.name, c.element.type]), [['label', 'BYTE_ARRAY'], ['score', 'FLOAT']]);
    assert.equal(element('embedding').element.type, 'FLOAT');

    const rows = (await parquetReadObjects({ file })) as unknown as Row[];
    // every label, best first, for the clip and for each window: tag's top 3 are the first three
    const classified = JSON.parse(cli(['classify', ...picks, '--json', '--top-k', 'all', '--timeline', '--no-progress']).stdout) as {
      results: { file: string; duration: number; labels: Row['labels']; windows: NonNullable<Row['timeline']> }[];
    };
    const top3 = { results: classified.results.map((x) => ({ ...x, labels: x.labels.slice(0, 3) })) };
    const all = classified;
    const timeline = classified;
    const labelOrder = (JSON.parse(readFileSync(join(out, '_manifest.json'), 'utf8')) as { labels: string[] }).labels;
    for (const [i, path] of picks.entries()) {
      const row = rows.find((x) => x.path === path);
      assert.ok(row, path);
      const bytes = readFileSync(path);
      assert.equal(Number(row.size), bytes.length);
      assert.equal(Number(row.mtime_ms), Math.floor(statSync(path).mtimeMs));
      assert.equal(row.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.equal(row.sampling_rate, rates.get(path));
      assertClose(row.duration_s, top3.results[i]!.duration, 1e-9, 'duration');
      assert.deepEqual(row.labels.map((l) => l.label), top3.results[i]!.labels.map((l) => l.label));
      row.labels.forEach((l, k) => assertClose(l.score, top3.results[i]!.labels[k]!.score, 1e-6, `${path} ${l.label}`));
      // every label's score, in the manifest's label order
      for (const { label, score } of all.results[i]!.labels) assertClose(row.scores![labelOrder.indexOf(label)]!, score, 1e-6, `${path} all-scores ${label}`);
      const windows = timeline.results[i]!.windows;
      assert.equal(row.timeline!.length, windows.length);
      row.timeline!.forEach((w, k) => {
        assertClose(w.start, windows[k]!.start, 1e-9, 'window start');
        assertClose(w.end, windows[k]!.end, 1e-9, 'window end');
        assert.deepEqual(w.labels.map((l) => l.label), windows[k]!.labels.slice(0, 3).map((l) => l.label));
        w.labels.forEach((l, j) => assertClose(l.score, windows[k]!.labels[j]!.score, 1e-6, `${path} window ${k} ${l.label}`));
      });
    }
    assert.equal(rows.find((x) => x.path === twoWindows)!.timeline!.length, 2);

    // the embedding of a one-window clip is its pooler_output, as `ast-audio embed` writes it
    const emb = join(dir, 'emb');
    const e = cli(['embed', picks[0]!, '--out', emb]);
    assert.equal(e.status, 0, e.stderr);
    const pooled = parseNpy(readFileSync(join(emb, 'pooler_output.npy')));
    const row0 = rows.find((x) => x.path === picks[0])!;
    assert.equal(row0.embedding!.length, pooled.shape[1]);
    row0.embedding!.forEach((v, k) => assertClose(v, pooled.data[k] as number, 1e-5, `embedding[${k}]`));
  });

  it('--merge: each file once, errors merged, a file that later succeeded not listed as an error; JSONL out', async () => {
    // a third folder: one worker failed on a good file (a transient error) that the others tagged
    const c = join(dir, 'transient');
    mkdirSync(c);
    const victim = uninterrupted[0]!;
    writeFileSync(join(c, 'errors.jsonl'), `${JSON.stringify({ path: victim.path, size: Number(victim.size), mtime_ms: Number(victim.mtime_ms), error: `${victim.path}: worker lost` })}\n`);
    writeFileSync(join(c, '_manifest.json'), readFileSync(join(dir, 'a', '_manifest.json')));
    const merged = join(dir, 'merged');
    const r = cli(['tag', '--merge', join(dir, 'a'), join(dir, 'b'), c, '--out', merged, '--format', 'jsonl', '--shard-size', '100']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /185 rows in 2 shards \(185 duplicates dropped\), 15 errors/);
    const lines = readdirSync(merged)
      .filter((n) => n.endsWith('.jsonl') && n.startsWith('part-'))
      .flatMap((n) => readFileSync(join(merged, n), 'utf8').split('\n').filter((l) => l))
      .map((l) => JSON.parse(l) as Row);
    assert.equal(lines.length, good.length);
    assert.equal(new Set(lines.map(key)).size, good.length);
    assert.deepEqual(readErrors(merged).map((e) => e.path).sort(), [...broken.keys()].sort());
  });

  describe('a Hugging Face datasets Parquet file', () => {
    let folders: string;
    let dataset: string;
    let stringDataset: string;
    const names = [...WORDS].reverse(); // ClassLabel order differs from the label order train sorts to

    before(() => {
      // 30 clips: each word and two noisy copies; the same clips as class folders, in the same order as the folder scan
      folders = join(dir, 'folders');
      const rand = lcg(7);
      const audio: { bytes: Uint8Array; path: string }[] = [];
      const labels: bigint[] = [];
      for (const word of WORDS) {
        mkdirSync(join(folders, word), { recursive: true });
        for (let k = 0; k < 3; k++) {
          const x = exampleSamples(word).map((v) => v + (k === 0 ? 0 : (rand() - 0.5) * 0.02 * k));
          const bytes = pcm16Wav(x, 16000);
          writeFileSync(join(folders, word, `${word}-${k}.wav`), bytes);
          audio.push({ bytes, path: `${word}-${k}.wav` });
          labels.push(BigInt(names.indexOf(word)));
        }
      }
      const hf = JSON.stringify({
        info: { features: { audio: { sampling_rate: 16000, _type: 'Audio' }, label: { names, _type: 'ClassLabel' } } },
      });
      // as `datasets` writes it: audio struct<bytes: binary, path: string>, label int64, several row groups
      const audioSchema = (name: string) => [
        { name, repetition_type: 'OPTIONAL' as const, num_children: 2 },
        { name: 'bytes', type: 'BYTE_ARRAY' as const, repetition_type: 'OPTIONAL' as const },
        { name: 'path', type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const, repetition_type: 'OPTIONAL' as const },
      ];
      dataset = join(dir, 'hf', 'train-00000-of-00001.parquet');
      mkdirSync(join(dir, 'hf'));
      writeFileSync(
        dataset,
        new Uint8Array(
          parquetWriteBuffer({
            columnData: [{ name: 'audio', data: audio }, { name: 'label', data: labels }],
            schema: [{ name: 'schema', num_children: 2 }, ...audioSchema('audio'), { name: 'label', type: 'INT64', repetition_type: 'OPTIONAL' }],
            rowGroupSize: 8,
            kvMetadata: [{ key: 'huggingface', value: hf }],
          }),
        ),
      );
      // the same rows with the label as a string column and other column names
      stringDataset = join(dir, 'hf-strings.parquet');
      writeFileSync(
        stringDataset,
        new Uint8Array(
          parquetWriteBuffer({
            columnData: [{ name: 'clip', data: audio }, { name: 'word', data: labels.map((l) => names[Number(l)]!) }],
            schema: [{ name: 'schema', num_children: 2 }, ...audioSchema('clip'), { name: 'word', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' }],
            rowGroupSize: 7,
          }),
        ),
      );
    });

    it('tag reads its rows: labels as classify gives for the same clips as files', async () => {
      const out = join(dir, 'hf-tags');
      const r = cli(['tag', dataset, '--out', out, '--no-progress']);
      assert.equal(r.status, 0, r.stderr);
      const rows = await readRows(out);
      assert.equal(rows.length, 30);
      const files = WORDS.flatMap((w) => [0, 1, 2].map((k) => join(folders, w, `${w}-${k}.wav`)));
      const ref = JSON.parse(cli(['classify', ...files, '--json', '--no-progress']).stdout) as { results: { labels: Row['labels'] }[] };
      for (const row of rows) {
        const index = Number(/#(\d+)$/.exec(row.path)![1]);
        assert.equal(row.path, `${dataset}#${index}`);
        assert.equal(row.sha256, createHash('sha256').update(readFileSync(files[index]!)).digest('hex'));
        assert.deepEqual(row.labels.map((l) => l.label), ref.results[index]!.labels.map((l) => l.label));
        row.labels.forEach((l, k) => assertClose(l.score, ref.results[index]!.labels[k]!.score, 1e-6, row.path));
      }
    });

    it('norm-stats reads it as the same clips in class folders', () => {
      const fromFolders = cli(['norm-stats', folders, '--json', '--no-progress']);
      assert.equal(fromFolders.status, 0, fromFolders.stderr);
      const r = cli(['norm-stats', dataset, '--json', '--no-progress']);
      assert.equal(r.status, 0, r.stderr);
      const [want, got] = [fromFolders, r].map((x) => JSON.parse(x.stdout) as { mean: number; std: number; clips: number });
      assert.equal(got!.clips, 30);
      assertClose(got!.mean, want!.mean, 1e-9, 'mean');
      assertClose(got!.std, want!.std, 1e-9, 'std');
    });

    it('eval scores it as the same clips in class folders (int ClassLabel and string labels)', () => {
      const fromFolders = cli(['eval', folders, '--json']);
      assert.equal(fromFolders.status, 0, fromFolders.stderr);
      const expected = JSON.parse(fromFolders.stdout) as Record<string, unknown>;
      for (const args of [[dataset], [stringDataset, '--audio-column', 'clip', '--label-column', 'word']]) {
        const r = cli(['eval', ...args, '--json']);
        assert.equal(r.status, 0, r.stderr);
        const got = JSON.parse(r.stdout) as Record<string, unknown>;
        assert.equal(got.clips, 30);
        for (const k of Object.keys(expected)) {
          if (typeof expected[k] === 'number') assertClose(got[k] as number, expected[k] as number, 1e-9, k);
        }
      }
    });

    it('train learns from it as from the same clips in class folders', () => {
      const common = ['--model', join(REPO_ROOT, 'models/speech-commands'), '--epochs', '1', '--batch-size', '5', '--lr', '1e-4', '--save-steps', '0'];
      const a = cli(['train', folders, '--out', join(dir, 'train-folders'), ...common]);
      assert.equal(a.status, 0, a.stderr);
      const b = cli(['train', dataset, '--out', join(dir, 'train-parquet'), ...common]);
      assert.equal(b.status, 0, b.stderr);
      const history = (run: string) => {
        const state = JSON.parse(readFileSync(join(dir, run, 'checkpoint-epoch-1', 'trainer_state.json'), 'utf8')) as { log_history?: unknown };
        return JSON.stringify(state.log_history ?? state);
      };
      // the same clips in the same order, the same seed: the same losses
      const lossesA = [...history('train-folders').matchAll(/"(?:loss|eval_loss|train_loss)":\s*([-\d.e]+)/g)].map((m) => Number(m[1]));
      const lossesB = [...history('train-parquet').matchAll(/"(?:loss|eval_loss|train_loss)":\s*([-\d.e]+)/g)].map((m) => Number(m[1]));
      assert.ok(lossesA.length > 0, history('train-folders'));
      assert.equal(lossesB.length, lossesA.length);
      lossesA.forEach((l, i) => assertClose(lossesB[i]!, l, 1e-6, `loss ${i}`));
    });
  });
});
