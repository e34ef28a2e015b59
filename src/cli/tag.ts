/**
 * `ast-audio tag INPUTS... --out DIR`: tag a corpus into Parquet (or JSON Lines) shards, resumably;
 * `ast-audio tag --merge DIR... --out MERGED`: merge shard folders, each file once.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { DTYPE_HELP, modelDtype, positiveInteger, positiveSeconds, threadsOption, topKOption } from './options.js';
import { isStdin, MODEL_HELP, modelOrDefault, plural, progressWanted } from './common.js';
import { expandInputs } from './expand-inputs.js';
import type { RuntimeOptions } from '../runtime/options.js';
import { DEFAULT_MODEL_DIR, pipeline, type AudioClassificationPipeline } from '../pipeline/audio-classification.js';
import type { Aggregation } from '../pipeline/windows.js';
import { createTagger, fileItem, type AudioItem } from '../corpus/tag-file.js';
import { streamingFileWindows } from '../corpus/streaming-windows.js';
import { DEFAULT_SHARD_SIZE, removeOrphanTemporaries, SHARD_FORMATS, ShardWriter, type ShardFormat } from '../corpus/shard-writer.js';
import { readDoneFiles } from '../corpus/resume.js';
import { columnsOf, readManifest, rowShapeOf, shapeDifferences, writeManifest, type RowShape, type TagManifest } from '../corpus/manifest.js';
import { runTagging } from '../corpus/tag-run.js';
import { mergeShardFolders } from '../corpus/merge.js';
import { fileKey, type TagError } from '../corpus/row.js';
import { appendError, ERRORS_FILE } from '../corpus/error-log.js';
import { datasetItems, isDatasetInput, openDatasets } from '../corpus/hf-dataset.js';
import { QUEUE_DEFAULTS, queueOption, tagQueueCommand, type TagQueueCliOptions } from './tag-queue.js';

export interface TagCliOptions extends Pick<RuntimeOptions, 'threads' | 'dtype'> {
  out: string;
  model?: string;
  topK: number | 'all';
  window?: number;
  hop?: number;
  aggregate: Aggregation;
  batchSize: number;
  allScores: boolean;
  timeline: boolean;
  embeddings: boolean;
  format: ShardFormat;
  shardSize: number;
  retryErrors: boolean;
  merge: boolean;
  audioColumn: string;
  progress?: boolean;
}

export const EXIT_OK = 0;
export const EXIT_FATAL = 1;
export const EXIT_SOME_FAILED = 2;
/** As a shell reports a process ended by SIGINT: 128 + 2. */
export const EXIT_INTERRUPTED = 130;

const EXAMPLES = `
Examples:
  $ ast-audio tag clips/ --out tags/                                # the embedded speech-commands model
  $ ast-audio tag 'archive/**/*.flac' -m MIT/ast-finetuned-audioset-10-10-0.4593 --out tags/ --top-k 10 --embeddings
  $ ast-audio tag clips/ --out tags/                                # again: skips the files already in tags/
  $ ast-audio tag data/train-00000-of-00002.parquet --out tags/     # a Hugging Face datasets Parquet file
  $ ast-audio tag --merge tags-a/ tags-b/ --out tags/               # each file once, errors merged

Writes DIR/part-00000.parquet, … (one row per file: path, size, mtime_ms, sha256, duration_s,
sampling_rate, labels; --all-scores, --timeline, --embeddings add columns), DIR/errors.jsonl (one line
per file that failed) and DIR/_manifest.json (model, options, version, counts).
A shard is written whole under a temporary name, then renamed: a killed run loses at most the shard
in progress, and the same command again skips every file already written (key: path, size, mtime) and
every file that failed (--retry-errors tries those again). Ctrl-C stops taking files, writes the rows
done so far as a shard and exits 130; a second Ctrl-C quits at once.
Exit status: 0 every file has a row, 2 some failed (listed in DIR/errors.jsonl, this run or an earlier
one), 1 fatal, 130 interrupted.
`;

export function register(program: Command): void {
  program
    .command('tag')
    .description('tag a corpus of audio files into resumable Parquet/JSONL shards (or --merge shard folders)')
    .argument('<inputs...>', 'audio files, folders, glob patterns, or Hugging Face datasets Parquet files/folders (with --merge: shard folders)')
    .option('-o, --out <dir>', 'output folder of shards (created; an existing one is resumed); with --queue, files already tagged there are not queued')
    .option('-m, --model <id|dir>', MODEL_HELP)
    .option('--dtype <dtype>', DTYPE_HELP, modelDtype)
    .option('-t, --threads <n>', 'ONNX Runtime threads (default: ONNX Runtime decides)', threadsOption)
    .option('-b, --batch-size <n>', 'windows per forward pass (shared by the files in flight)', positiveInteger('--batch-size'), 1)
    .option('--window <seconds>', 'window length for long audio (default and maximum: the model max_length)', positiveSeconds('--window'))
    .option('--hop <seconds>', 'step between windows (default: the window length)', positiveSeconds('--hop'))
    .addOption(new Option('--aggregate <how>', 'clip score from window scores').choices(['mean', 'max', 'first']).default('mean'))
    .option('-k, --top-k <n|all>', 'labels per file (and per window with --timeline), best first', topKOption, 5)
    .option('--all-scores', 'add a "scores" column: every label\'s clip score, in the model\'s label order', false)
    .option('--timeline', 'add a "timeline" column: every window\'s start, end and top labels', false)
    .option('--embeddings', 'add an "embedding" column: the pooled output (mean over windows), float32', false)
    .addOption(new Option('--format <format>', 'shard format').choices([...SHARD_FORMATS]).default('parquet'))
    .option('--shard-size <n>', 'rows per shard', positiveInteger('--shard-size'), DEFAULT_SHARD_SIZE)
    .option('--retry-errors', 'on resume, try again the files listed in errors.jsonl', false)
    .option('--audio-column <name>', 'Parquet datasets: the audio column ({bytes, path} struct)', 'audio')
    .option('--merge', 'merge the shard folders given as inputs into --out (each file once, errors merged)', false)
    .option('--progress', 'show progress on stderr even when it is not a terminal')
    .option('--no-progress', 'never show progress')
    .option('--queue <redis://host:port/name>', 'put the files on this BullMQ queue for `ast-audio worker`s instead of tagging here', queueOption)
    .option('--job-files <n>', 'with --queue: files per job', positiveInteger('--job-files'), QUEUE_DEFAULTS.jobFiles)
    .option('--attempts <n>', 'with --queue: tries per job before a failing file goes to errors.jsonl', positiveInteger('--attempts'), QUEUE_DEFAULTS.attempts)
    .option('--backoff <ms>', 'with --queue: first retry delay (doubling after)', positiveInteger('--backoff'), QUEUE_DEFAULTS.backoff)
    .addHelpText('after', EXAMPLES)
    .action(async (inputs: string[], opts: Omit<TagCliOptions, 'out'> & Partial<TagQueueCliOptions>) => {
      const say = (line: string) => process.stderr.write(`${line}\n`);
      if (opts.queue && !opts.merge) process.exitCode = await tagQueueCommand(inputs, opts as TagQueueCliOptions, say);
      else if (opts.out === undefined) {
        say('ast-audio tag: --out DIR is required (where the shards go), unless --queue puts the files on a queue');
        process.exitCode = EXIT_FATAL;
      } else process.exitCode = await tagCommand(inputs, { ...opts, out: opts.out }, process.stderr);
    });
}

/** package.json sits two folders up from both src/cli/ and dist/cli/. */
async function packageVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function tagCommand(inputs: readonly string[], opts: TagCliOptions, stderr: NodeJS.WritableStream & { isTTY?: boolean }): Promise<number> {
  const say = (line: string) => stderr.write(`${line}\n`);
  const version = await packageVersion();
  if (opts.merge) {
    try {
      const r = await mergeShardFolders(inputs, { out: opts.out, format: opts.format, shardSize: opts.shardSize, version });
      say(
        `ast-audio tag --merge: ${plural(r.rows, 'row')} in ${plural(r.shards.length, 'shard')} (${plural(r.duplicates, 'duplicate')} dropped), ` +
          `${plural(r.errors, 'error')} -> ${opts.out}`,
      );
      return EXIT_OK;
    } catch (err) {
      say(`ast-audio tag: ${message(err)}`);
      return EXIT_FATAL;
    }
  }

  // ---- inputs: audio files (folders, globs) and Parquet datasets
  if (inputs.some(isStdin)) {
    say('ast-audio tag: standard input cannot be tagged resumably; give files or folders (or use ast-audio classify -)');
    return EXIT_FATAL;
  }
  const datasetArgs: string[] = [];
  const fileArgs: string[] = [];
  for (const a of inputs) ((await isDatasetInput(a)) ? datasetArgs : fileArgs).push(a);
  const { files, problems } = fileArgs.length ? await expandInputs(fileArgs) : { files: [], problems: [] };
  for (const p of problems) say(`ast-audio tag: ${p.input}: ${p.message}`);
  if (files.length === 0 && datasetArgs.length === 0) {
    say('ast-audio tag: no audio files to tag');
    return EXIT_FATAL;
  }

  let classifier: AudioClassificationPipeline;
  try {
    classifier = await pipeline('audio-classification', modelOrDefault(opts.model).source, { threads: opts.threads, dtype: opts.dtype });
  } catch (err) {
    say(`ast-audio tag: cannot load the model: ${message(err)}`);
    return EXIT_FATAL;
  }
  try {
    return await tagInto(files, datasetArgs, classifier, opts, version, stderr, problems.length);
  } catch (err) {
    say(`ast-audio tag: ${message(err)}`);
    return EXIT_FATAL;
  } finally {
    await classifier.dispose();
  }
}

async function tagInto(
  files: readonly string[],
  datasets: readonly string[],
  classifier: AudioClassificationPipeline,
  opts: TagCliOptions,
  version: string,
  stderr: NodeJS.WritableStream & { isTTY?: boolean },
  inputProblems: number,
): Promise<number> {
  const say = (line: string) => stderr.write(`${line}\n`);
  const tagger = createTagger(classifier, {
    topK: opts.topK === 'all' ? null : opts.topK,
    window: opts.window,
    hop: opts.hop,
    aggregate: opts.aggregate,
    batchSize: opts.batchSize,
    allScores: opts.allScores,
    timeline: opts.timeline,
    embeddings: opts.embeddings,
  }, streamingFileWindows); // files on disk in WAV, FLAC, MP3, Ogg Vorbis: a few windows in memory, whatever the length
  const shape: RowShape = {
    model: opts.model ?? DEFAULT_MODEL_DIR,
    dtype: opts.dtype ?? 'fp32',
    labels: [...tagger.labels],
    function_to_apply: tagger.functionToApply,
    top_k: opts.topK,
    window: opts.window ?? null,
    hop: opts.hop ?? null,
    aggregate: opts.aggregate,
    all_scores: opts.allScores,
    timeline: opts.timeline,
    embeddings: opts.embeddings,
  };

  // ---- what the folder holds already: same row shape, or refuse
  await mkdir(opts.out, { recursive: true });
  const existing = await readManifest(opts.out);
  if (existing) {
    const diff = shapeDifferences(shape, rowShapeOf(existing));
    if (diff.length) {
      throw new Error(`${opts.out} holds rows tagged with other options: ${diff.join('; ')}. Give those options to resume, or another --out`);
    }
  }
  await appendFile(join(opts.out, ERRORS_FILE), ''); // errors.jsonl exists (empty) even when nothing fails
  const orphans = await removeOrphanTemporaries(opts.out);
  if (orphans.length) say(`# removed ${plural(orphans.length, 'unfinished shard')} of a killed run`);
  const done = await readDoneFiles(opts.out);

  // ---- the files to tag: stat each (its key), skip those done
  const todo: AudioItem[] = [];
  let skipped = 0;
  let listingErrors = 0;
  const skip = (item: AudioItem): boolean => {
    const key = fileKey(item);
    return done.rows.has(key) || (!opts.retryErrors && done.errors.has(key));
  };
  for (const f of files) {
    let item: AudioItem;
    try {
      item = await fileItem(f);
    } catch (err) {
      listingErrors++;
      const e: TagError = { path: f, size: 0, mtime_ms: 0, error: message(err) };
      await appendError(opts.out, e);
      continue;
    }
    if (skip(item)) skipped++;
    else todo.push(item);
  }
  const openDatasetFiles = await openDatasets(datasets, { audioColumn: opts.audioColumn });
  const datasetRows = openDatasetFiles.reduce((n, d) => n + d.numRows, 0);
  // Dataset rows are read a row group at a time as the run goes, and skipped (when done) as they are met.
  let bar: TagProgress | undefined;
  async function* items(): AsyncGenerator<AudioItem> {
    yield* todo;
    for await (const item of datasetItems(openDatasetFiles)) {
      if (skip(item)) {
        skipped++;
        bar?.skip();
      } else yield item;
    }
  }

  const fe = classifier.featureExtractor.config;
  say(
    `# model ${shape.model}: ${plural(tagger.labels.length, 'label')}, scores ${tagger.functionToApply}; ` +
      `${plural(todo.length, 'file')} to tag` +
      (skipped ? `, ${skipped} already in ${opts.out} (skipped)` : '') +
      (openDatasetFiles.length ? `, ${plural(datasetRows, 'row')} of ${plural(openDatasetFiles.length, 'Parquet file')} (done rows skipped as met)` : '') +
      ` -> ${opts.format} shards of ${opts.shardSize} rows (${fe.sampling_rate} Hz model input)`,
  );

  const writer = new ShardWriter({
    dir: opts.out,
    format: opts.format,
    shardSize: opts.shardSize,
    columns: columnsOf(shape),
    metadata: { model: shape.model, dtype: shape.dtype, labels: shape.labels, version },
  });
  const manifestNow = async (): Promise<TagManifest> => {
    const now = await readDoneFiles(opts.out);
    return {
      tool: 'ast-audio',
      version,
      ...shape,
      format: opts.format,
      shard_size: opts.shardSize,
      batch_size: opts.batchSize,
      counts: { rows: now.rows.size, errors: now.errors.size, shards: now.shards.length },
      updated: new Date().toISOString(),
    };
  };
  await writeManifest(opts.out, await manifestNow());

  // ---- Ctrl-C (and SIGTERM, as systemd and Kubernetes stop a service): finish the shard, then exit
  let stop = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop) {
      say(`ast-audio tag: ${signal} again: quitting now; the rows not yet in a shard are lost (a rerun tags them)`);
      process.exit(EXIT_INTERRUPTED);
    }
    stop = true;
    say(`ast-audio tag: ${signal}: finishing the files in flight and writing their shard (${signal} again quits at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  if (progressWanted(opts.progress, stderr)) bar = new TagProgress(todo.length + datasetRows, stderr);
  const errorLines: string[] = [];
  let audioSeconds = 0;
  const t0 = performance.now();
  let result;
  try {
    result = await runTagging({
      items: items(),
      tagger,
      writer,
      errorsDir: opts.out,
      stopRequested: () => stop,
      onRow: (row) => {
        audioSeconds += row.duration_s;
        bar?.file(row.duration_s);
      },
      onError: (e) => {
        bar?.file(0);
        if (bar) errorLines.push(e.error);
        else say(`ast-audio tag: ${e.error}`);
      },
      onShard: async () => writeManifest(opts.out, await manifestNow()),
    });
  } finally {
    bar?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const wall = (performance.now() - t0) / 1000;
  for (const l of errorLines) say(`ast-audio tag: ${l}`);
  const manifest = await manifestNow();
  await writeManifest(opts.out, manifest);
  // The folder's state, so a resumed run that met no new failure still says some files failed.
  const failed = manifest.counts.errors + inputProblems;
  say(
    `ast-audio tag: ${plural(result.rows, 'file')} tagged, ${plural(result.errors + listingErrors, 'error')} this run` +
      (result.rows > 0 ? ` in ${wall.toFixed(1)} s (${(result.rows / wall).toFixed(2)} files/s, ${(audioSeconds / 3600 / wall).toPrecision(3)} audio-hours/s)` : '') +
      '; ' +
      `${opts.out} holds ${plural(manifest.counts.rows, 'row')} in ${plural(manifest.counts.shards, 'shard')}, ${plural(manifest.counts.errors, 'error')}`,
  );
  if (result.stopped) {
    say(`ast-audio tag: interrupted; the same command again tags the files left`);
    return EXIT_INTERRUPTED;
  }
  return failed > 0 ? EXIT_SOME_FAILED : EXIT_OK;
}

/** Files done / to do, files/s, audio hours/s and ETA, on stderr. */
class TagProgress {
  private readonly bar: cliProgress.SingleBar;
  private readonly t0 = performance.now();
  private done = 0;
  private total: number;
  private audioSeconds = 0;

  constructor(total: number, stream: NodeJS.WritableStream & { isTTY?: boolean }) {
    this.total = total;
    this.bar = new cliProgress.SingleBar(
      {
        stream,
        format: 'tag [{bar}] {value}/{total} files | {fps} files/s | {ahps} audio-h/s | ETA {eta_formatted}',
        hideCursor: stream.isTTY === true,
        noTTYOutput: stream.isTTY !== true,
        notTTYSchedule: 5000,
        etaBuffer: 100,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(Math.max(1, total), 0, { fps: '-', ahps: '-' });
  }

  file(durationSeconds: number): void {
    this.done++;
    this.audioSeconds += Number.isFinite(durationSeconds) ? durationSeconds : 0;
    const s = (performance.now() - this.t0) / 1000;
    this.bar.update(this.done, { fps: (this.done / s).toFixed(2), ahps: (this.audioSeconds / 3600 / s).toPrecision(3) });
  }

  /** A dataset row found done already: one file fewer to do. */
  skip(): void {
    this.total--;
    this.bar.setTotal(Math.max(1, this.total));
  }

  stop(): void {
    this.bar.stop();
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
