/** `ast-audio classify FILE|DIR|GLOB…`: top labels per file, as text, JSON or CSV. */
import { stat } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { DTYPE_HELP, deviceOption, modelDtype, positiveInteger, positiveSeconds, threadsOption, topKOption, type CliDevice } from './options.js';
import type { RuntimeOptions } from '../runtime/options.js';
import cliProgress from 'cli-progress';
import { AudioProgress, isStdin, MODEL_HELP, plural, progressWanted, readStdin } from './common.js';
import { getAudioFileReader, getAudioFileStreamer, registerAudioFileReader, registerAudioFileStreamer } from '../pipeline/file-reader.js';
import type { FileSource } from '../io/files.js';
import { looksLikeRepoId } from '../io/hub-names.js';
import { hubSource } from '../node/hub.js';
import {
  DEFAULT_MODEL_DIR,
  pipeline,
  type ActivationFunction,
  type AudioClassificationPipeline,
  type AudioClassificationResult,
  type ClassifiedAudio,
  type ClassifyOptions,
} from '../pipeline/audio-classification.js';
import { FRAME_SHIFT_MS, planWindows, type Aggregation } from '../pipeline/windows.js';
import { expandInputs } from './expand-inputs.js';

export interface ClassifyCliOptions extends Pick<RuntimeOptions, 'threads' | 'dtype'> {
  model?: string;
  revision?: string;
  /** A number, or all labels ('all' from the command line, null from code). */
  topK: number | 'all' | null;
  function?: ActivationFunction;
  window?: number;
  hop?: number;
  aggregate: Aggregation;
  timeline: boolean;
  json: boolean;
  csv: boolean;
  batchSize: number;
  /** --device: cpu (default) or webgpu. */
  device?: CliDevice;
  /** --progress: always; --no-progress: never; neither: on a terminal. */
  progress?: boolean;
}

export interface CommandIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Exit codes: 0 every input classified, 2 some inputs failed (each reported), 1 nothing could run. */
export const EXIT_OK = 0;
export const EXIT_FATAL = 1;
export const EXIT_SOME_FAILED = 2;

const EXAMPLES = `
Examples:
  $ ast-audio classify recording.wav                       # embedded speech-commands model
  $ curl -s https://example.com/clip.mp3 | ast-audio classify -   # - reads standard input
  $ ast-audio classify clips/ --top-k 3 --csv > labels.csv  # every audio file under clips/
  $ ast-audio classify 'data/**/*.flac' --json              # a pattern, expanded here if the shell did not
  $ ast-audio classify concert.mp3 -m MIT/ast-finetuned-audioset-10-10-0.4593 --timeline --hop 5
  $ HF_HUB_OFFLINE=1 ast-audio classify a.wav -m MIT/ast-finetuned-audioset-10-10-0.4593

Scores are softmax over the labels, or sigmoid for multi-label checkpoints (problem_type
multi_label_classification, or 527 AudioSet labels); the first line on stderr says which.
Audio longer than the model's window (max_length frames, 10.24 s for AudioSet models) is cut into
windows every --hop seconds, the last one ending at the end of the audio (no window is padding);
clip scores are the --aggregate over windows, --timeline prints each window.
Progress (seconds of audio done / total, ETA) shows on a terminal; --progress forces it, --no-progress hides it.
Exit status: 0 all inputs classified, 2 some failed (reported on stderr, the rest still run), 1 fatal.
`;

export function register(program: Command): void {
  program
    .command('classify')
    .description('classify audio files with an AST checkpoint: top labels per file')
    .argument('<inputs...>', 'audio files, folders (searched recursively), glob patterns, or - for standard input')
    .option('-m, --model <id|dir>', MODEL_HELP)
    .option('--revision <rev>', 'Hub branch, tag or commit (default: main)')
    .option('-k, --top-k <n|all>', 'labels per file, best first', topKOption, 5)
    .addOption(new Option('--function <name>', 'score function (default: by checkpoint)').choices(['softmax', 'sigmoid', 'none']))
    .option('--window <seconds>', 'window length for long audio (default and maximum: the model max_length)', positiveSeconds('--window'))
    .option('--hop <seconds>', 'step between windows (default: the window length)', positiveSeconds('--hop'))
    .addOption(new Option('--aggregate <how>', 'clip score from window scores; first = Hugging Face truncation').choices(['mean', 'max', 'first']).default('mean'))
    .option('--timeline', 'print the top labels of every window with start/end seconds', false)
    .option('--json', 'print one JSON document', false)
    .option('--csv', 'print CSV rows', false)
    .option('-b, --batch-size <n>', 'windows per forward pass', positiveInteger('--batch-size'), 1)
    .option('-t, --threads <n>', 'ONNX Runtime threads (default: ONNX Runtime decides)', threadsOption)
    .option('--dtype <dtype>', DTYPE_HELP, modelDtype)
    .addOption(deviceOption())
    .option('--progress', 'show progress on stderr even when it is not a terminal')
    .option('--no-progress', 'never show progress')
    .addHelpText('after', EXAMPLES)
    .action(async (inputs: string[], opts: ClassifyCliOptions) => {
      // `ast-audio classify … | head`: the reader leaving is not an error worth a stack trace.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') throw err;
        process.exit(process.exitCode ?? EXIT_OK);
      });
      process.exitCode = await classifyCommand(inputs, opts, { stdout: process.stdout, stderr: process.stderr });
    });
}

/** The command without commander: returns the exit code (tests call this directly). */
export async function classifyCommand(inputs: readonly string[], opts: ClassifyCliOptions, io: CommandIO): Promise<number> {
  const say = (line: string) => io.stderr.write(`${line}\n`);
  if (opts.json && opts.csv) {
    say('ast-audio classify: choose one of --json and --csv');
    return EXIT_FATAL;
  }
  const { files, problems } = await expandInputs(inputs);
  if (files.some(isStdin)) {
    // `-` goes through the pipeline like a path, so results and errors carry the name the user typed.
    const readFile = getAudioFileReader();
    registerAudioFileReader((path) => (isStdin(path) ? readStdin() : readFile!(path)));
    const streamFile = getAudioFileStreamer();
    registerAudioFileStreamer(streamFile && ((path) => (isStdin(path) ? Promise.resolve(undefined) : streamFile(path))));
  }
  for (const p of problems) say(`ast-audio classify: ${p.input}: ${p.message}`);
  if (files.length === 0) {
    say('ast-audio classify: no audio files to classify');
    return EXIT_FATAL;
  }

  let classify: AudioClassificationPipeline;
  try {
    classify = await pipeline('audio-classification', await modelSource(opts, io), {
      revision: opts.revision,
      threads: opts.threads,
      dtype: opts.dtype,
      device: opts.device,
    });
  } catch (err) {
    say(`ast-audio classify: cannot load the model: ${message(err)}`);
    return EXIT_FATAL;
  }

  const callOptions: ClassifyOptions = {
    topK: opts.topK === 'all' ? null : opts.topK,
    functionToApply: opts.function,
    window: opts.window,
    hop: opts.hop,
    aggregate: opts.aggregate,
    batchSize: opts.batchSize,
  };
  const fn = opts.function ?? classify.functionToApply;
  const fe = classify.featureExtractor.config;
  try {
    // Checks --window/--hop against the model once, before any file is read.
    const plan = planWindows(0, fe.sampling_rate, fe.max_length, callOptions);
    say(
      `# model ${opts.model ?? DEFAULT_MODEL_DIR}: ${plural(classify.model.config.num_labels, 'label')}; scores: ${fn}` +
        `${opts.function ? ' (--function)' : ` (${classify.functionReason})`}; ` +
        `long audio: ${seconds((plan.windowFrames * FRAME_SHIFT_MS) / 1000)} windows every ${seconds((plan.hopFrames * FRAME_SHIFT_MS) / 1000)}, ${opts.aggregate}`,
    );
  } catch (err) {
    say(`ast-audio classify: ${message(err)}`);
    await classify.dispose();
    return EXIT_FATAL;
  }

  const format = opts.json ? 'json' : opts.csv ? 'csv' : 'text';
  const bar = progressWanted(opts.progress, io.stderr) ? new AudioProgress('classify', files.length, io.stderr, opts.progress === true) : undefined;
  // With a bar on the same terminal, results and errors wait until it is done.
  const held = bar && io.stdout.isTTY && io.stderr.isTTY ? ([] as string[]) : undefined;
  const heldErrors: string[] = [];
  const out = (text: string) => (held ? held.push(text) : io.stdout.write(text));
  const fail = (line: string) => (bar ? heldErrors.push(line) : say(line));

  const records: object[] = [];
  let failed = problems.length;
  if (format === 'csv') out(opts.timeline ? 'file,start,end,rank,label,score\n' : 'file,rank,label,score\n');
  const progress = bar && {
    onDecoded: (index: number, duration: number) => bar.decoded(index, duration),
    onWindows: (index: number, done: number, windows: number) => bar.advance(index, done / windows),
  };
  try {
    for await (const item of classify.run(files, callOptions, progress)) {
      bar?.advance(item.index, 1);
      if (item.error) {
        failed++;
        fail(`ast-audio classify: ${item.error.message}`);
        if (format === 'json') records.push({ file: item.source, error: item.error.message });
        continue;
      }
      if (format === 'json') records.push(jsonRecord(item, opts.timeline));
      else out(format === 'csv' ? csvRows(item, opts.timeline) : textBlock(item, opts.timeline));
    }
  } finally {
    bar?.stop();
    await classify.dispose();
  }
  if (held) io.stdout.write(held.join(''));
  for (const line of heldErrors) say(line);
  if (format === 'json') {
    const doc = {
      model: opts.model ?? DEFAULT_MODEL_DIR,
      functionToApply: fn,
      aggregate: opts.aggregate,
      results: records,
    };
    io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  }
  if (failed > 0) say(`ast-audio classify: ${failed} of ${plural(files.length + problems.length, 'input')} failed`);
  return failed > 0 ? EXIT_SOME_FAILED : EXIT_OK;
}

/** A folder or URL as given; a Hub id becomes a cached Hub source that reports download progress. */
async function modelSource(opts: ClassifyCliOptions, io: CommandIO): Promise<string | FileSource | undefined> {
  const m = opts.model;
  if (m === undefined) return undefined;
  const isFolder = await stat(m).then((s) => s.isDirectory(), () => false);
  if (isFolder || !looksLikeRepoId(m)) return m;
  let bar: cliProgress.SingleBar | undefined;
  let current = '';
  return hubSource(m, {
    revision: opts.revision,
    onProgress: ({ file, loaded, total }) => {
      if (!progressWanted(opts.progress, io.stderr) || total < 1 << 20) return;
      if (file !== current) {
        bar?.stop();
        current = file;
        bar = new cliProgress.SingleBar(
          { stream: io.stderr, format: `download ${file} [{bar}] {percentage}% of ${(total / 2 ** 20).toFixed(0)} MiB` },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0);
      }
      bar?.update(loaded);
      if (loaded === total) {
        bar?.stop();
        bar = undefined;
      }
    },
  });
}

function textBlock(item: ClassifiedAudio, timeline: boolean): string {
  const lines = [`${item.source} (${seconds(item.duration)})`];
  if (timeline) {
    for (const w of item.windows!) lines.push(`  ${w.start.toFixed(2)}-${w.end.toFixed(2)} s  ${w.labels.map((l) => `${l.label} ${score(l.score)}`).join(', ')}`);
  } else {
    for (const l of item.labels!) lines.push(`  ${score(l.score).padStart(8)}  ${l.label}`);
  }
  return `${lines.join('\n')}\n`;
}

function csvRows(item: ClassifiedAudio, timeline: boolean): string {
  const rows = (labels: AudioClassificationResult[], prefix: string[]) =>
    labels.map((l, r) => [...prefix, String(r + 1), csvField(l.label), String(l.score)].join(',')).join('\n');
  const file = csvField(item.source);
  const body = timeline
    ? item.windows!.map((w) => rows(w.labels, [file, w.start.toFixed(3), w.end.toFixed(3)])).join('\n')
    : rows(item.labels!, [file]);
  return `${body}\n`;
}

function jsonRecord(item: ClassifiedAudio, timeline: boolean): object {
  return {
    file: item.source,
    duration: item.duration,
    labels: item.labels,
    ...(timeline ? { windows: item.windows } : {}),
  };
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function score(x: number): string {
  return Math.abs(x) >= 1e-4 || x === 0 ? x.toFixed(4) : x.toExponential(2);
}

function seconds(s: number): string {
  return `${Number.isFinite(s) ? s.toFixed(2) : '?'} s`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
