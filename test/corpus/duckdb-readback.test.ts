/**
 * Our Parquet against another implementation of the format, DuckDB (@duckdb/node-api, the official Node
 * client; its own C++ Parquet reader and writer, nothing shared with hyparquet):
 *
 * - the shards `ast-audio tag --all-scores --timeline --embeddings` writes are read by DuckDB as the typed
 *   columns the schema declares (src/corpus/parquet-rows.ts), and hold the values of the JSON Lines shards of
 *   the same command with `--format jsonl` (FLOAT columns: the JSON number rounded to float32);
 * - a Hugging Face layout dataset written by DuckDB (`COPY … TO 'x.parquet'`: audio STRUCT(bytes BLOB, path
 *   VARCHAR), label BIGINT with the ClassLabel names in the `huggingface` key-value metadata) is read by
 *   `ast-audio eval` and `train` as the same clips in class folders.
 *
 * pandas reads these files through pyarrow (or fastparquet), which cannot be installed here (no PyPI), so
 * DuckDB stands in as the second reader.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { pcm16Wav } from '../helpers/pcm16-wav.js';

const EXAMPLES = join(REPO_ROOT, 'models/speech-commands/examples');

function cli(args: string[]): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `ast-audio ${args.join(' ')}: ${r.stderr}`);
  return r;
}

/** A speech-commands example's samples (16-bit PCM after a 44-byte header), scaled. */
function example(word: string, gain = 1): Float32Array {
  const bytes = readFileSync(join(EXAMPLES, `${word}.wav`));
  const pcm = new Int16Array(bytes.buffer.slice(bytes.byteOffset + 44, bytes.byteOffset + bytes.length));
  return Float32Array.from(pcm, (s) => (gain * s) / 32768);
}

/** The declared schema (parquet-rows.ts) in DuckDB's type names (compared without DuckDB's quotes around keywords). */
const LABELS = 'STRUCT(label VARCHAR, score FLOAT)[]';
const EXPECTED_TYPES = {
  path: 'VARCHAR',
  size: 'BIGINT',
  mtime_ms: 'BIGINT',
  sha256: 'VARCHAR',
  duration_s: 'DOUBLE',
  sampling_rate: 'INTEGER',
  labels: LABELS,
  scores: 'FLOAT[]',
  timeline: `STRUCT(start DOUBLE, end DOUBLE, labels ${LABELS})[]`,
  embedding: 'FLOAT[]',
};

interface JsonRow {
  path: string;
  size: number;
  mtime_ms: number;
  sha256: string;
  duration_s: number;
  sampling_rate: number;
  labels: { label: string; score: number }[];
  scores: number[];
  timeline: { start: number; end: number; labels: { label: string; score: number }[] }[];
  embedding: number[];
}

const sql = (s: string) => `'${s.replace(/'/g, "''")}'`;

describe('Parquet read by DuckDB, and DuckDB-written Parquet read by ast-audio', { timeout: 240_000 }, () => {
  let dir: string;
  let db: DuckDBInstance;
  let duck: DuckDBConnection;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ast-duckdb-'));
    db = await DuckDBInstance.create(':memory:');
    duck = await db.connect();
  });
  after(() => {
    duck?.closeSync();
    db?.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tag shards: DuckDB reads the declared column types and the values of the JSON Lines shards', async () => {
    const inputs = join(dir, 'clips');
    mkdirSync(inputs);
    for (const w of ['yes', 'no', 'up']) copyFileSync(join(EXAMPLES, `${w}.wav`), join(inputs, `${w}.wav`));
    writeFileSync(join(inputs, 'two-windows.wav'), pcm16Wav(Float32Array.from([...example('go'), ...example('stop', 0.7)])));
    writeFileSync(join(inputs, 'at-8k.wav'), pcm16Wav(example('left').filter((_, i) => i % 2 === 0), 8000));
    const options = ['--all-scores', '--timeline', '--embeddings', '--top-k', '3', '--no-progress'];
    cli(['tag', inputs, '--out', join(dir, 'parquet'), ...options]);
    cli(['tag', inputs, '--out', join(dir, 'jsonl'), '--format', 'jsonl', ...options]);
    const shards = `${join(dir, 'parquet')}/part-*.parquet`;

    const described = (await duck.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sql(shards)})`)).getRowObjectsJS();
    assert.deepEqual(Object.fromEntries(described.map((c) => [c.column_name, String(c.column_type).replace(/"/g, '')])), EXPECTED_TYPES);

    const got = (await duck.runAndReadAll(`SELECT * FROM read_parquet(${sql(shards)}) ORDER BY path`)).getRowObjectsJS();
    const want = readdirSync(join(dir, 'jsonl'))
      .filter((n) => n.endsWith('.jsonl') && n.startsWith('part-'))
      .flatMap((n) => readFileSync(join(dir, 'jsonl', n), 'utf8').split('\n').filter((l) => l))
      .map((l) => JSON.parse(l) as JsonRow)
      .sort((a, b) => (a.path < b.path ? -1 : 1));
    assert.equal(got.length, 5);
    assert.equal(want.length, 5);
    const f32 = Math.fround;
    const labels = (xs: { label: string; score: number }[]) => xs.map((x) => ({ label: x.label, score: f32(x.score) }));
    for (const [i, w] of want.entries()) {
      const g = got[i]!;
      assert.equal(g.path, w.path);
      assert.equal(g.size, BigInt(w.size), w.path);
      assert.equal(g.mtime_ms, BigInt(w.mtime_ms), w.path);
      assert.equal(g.sha256, w.sha256, w.path);
      assert.equal(g.duration_s, w.duration_s, w.path);
      assert.equal(g.sampling_rate, w.sampling_rate, w.path);
      assert.deepEqual(g.labels, labels(w.labels), w.path);
      assert.deepEqual(g.scores, w.scores.map(f32), w.path);
      assert.deepEqual(g.timeline, w.timeline.map((win) => ({ start: win.start, end: win.end, labels: labels(win.labels) })), w.path);
      assert.deepEqual(g.embedding, w.embedding.map(f32), w.path);
    }
    assert.ok(want.some((w) => w.timeline.length === 2), 'a clip with two windows');
    assert.ok(want.some((w) => w.sampling_rate === 8000), 'a clip at another rate');
    // a query as a user would write it: typed columns, no conversion
    const top = (await duck.runAndReadAll(`SELECT labels[1].label AS top, len(embedding) AS dim FROM read_parquet(${sql(shards)}) WHERE path LIKE '%/yes.wav'`)).getRowObjectsJS();
    assert.deepEqual(top, [{ top: want.find((w) => w.path.endsWith('/yes.wav'))!.labels[0]!.label, dim: BigInt(want[0]!.embedding.length) }]);
  });

  it("a Hugging Face layout file written by DuckDB: eval and train read it as the same clips in class folders", async () => {
    const names = ['yes', 'no', 'up', 'down'];
    const folders = join(dir, 'folders');
    for (const w of names) {
      mkdirSync(join(folders, w), { recursive: true });
      for (const [k, gain] of [0.9, 0.6].entries()) writeFileSync(join(folders, w, `${w}-${k}.wav`), pcm16Wav(example(w, gain)));
    }
    const hf = JSON.stringify({ info: { features: { audio: { sampling_rate: 16000, _type: 'Audio' }, label: { names, _type: 'ClassLabel' } } } });
    const dataset = join(dir, 'hf', 'train-00000-of-00001.parquet');
    mkdirSync(join(dir, 'hf'));
    await duck.run(
      `COPY (SELECT {'bytes': content, 'path': parse_filename(filename)} AS audio,
                    CAST(list_position([${names.map(sql).join(', ')}], parse_filename(parse_dirpath(filename))) - 1 AS BIGINT) AS label
             FROM read_blob(${sql(`${folders}/*/*.wav`)}) ORDER BY filename)
       TO ${sql(dataset)} (FORMAT parquet, KV_METADATA {huggingface: ${sql(hf)}})`,
    );
    const types = (await duck.runAndReadAll(`DESCRIBE SELECT * FROM ${sql(dataset)}`)).getRowObjectsJS().map((c) => `${c.column_name} ${c.column_type}`);
    assert.deepEqual(types, ['audio STRUCT(bytes BLOB, path VARCHAR)', 'label BIGINT']);

    const fromFolders = JSON.parse(cli(['eval', folders, '--json']).stdout) as Record<string, number>;
    const fromParquet = JSON.parse(cli(['eval', dataset, '--json']).stdout) as Record<string, number>;
    assert.equal(fromParquet.clips, 8);
    for (const k of Object.keys(fromFolders)) assert.ok(Math.abs(fromParquet[k]! - fromFolders[k]!) <= 1e-9, `${k}: ${fromParquet[k]} vs ${fromFolders[k]}`);

    // train: the same clips, the same seed; the folder clips are listed class by class, the Parquet rows by
    // file name, so the labels' order differs and the batches too: equal in the set of clips, not the losses
    const common = ['--model', join(REPO_ROOT, 'models/speech-commands'), '--epochs', '1', '--batch-size', '4', '--validation-split', '0', '--save-steps', '0'];
    const r = cli(['train', dataset, '--out', join(dir, 'run'), ...common]);
    assert.match(r.stderr, /8 training clips, 0 validation clips, 4 labels/);
    const config = JSON.parse(readFileSync(join(dir, 'run', 'config.json'), 'utf8')) as { label2id: Record<string, number> };
    assert.deepEqual(Object.keys(config.label2id).sort(), [...names].sort());
  });
});
