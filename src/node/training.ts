/**
 * `ast-audio train` and `ast-audio eval` as functions (Node-only: they read folders and write checkpoints).
 * Training is two steps: `prepareTraining` (data source -> cached features, checkpoint or config -> model,
 * norm stats, store) and `train` (the browser-safe loop in train/trainer.ts); `runTraining` does both.
 */
import { readFileSync } from 'node:fs';
import type { Float32Tensor } from '../tensor.js';
import { ASTConfig } from '../model/config.js';
import { loadPretrained } from '../model/pretrained.js';
import { ASTForAudioClassification } from '../model/ast.js';
import { parseJson } from '../io/files.js';
import { ASTFeatureExtractor } from '../audio/feature-extractor.js';
import type { Normalization } from '../audio/fbank.js';
import { NormStatsAccumulator } from '../audio/norm-stats.js';
import type { RuntimeOptions } from '../runtime/options.js';
import { labelSet, splitTrainValidation, type LabelledClip } from '../train/dataset.js';
import { checkMaskWidths } from '../train/augment.js';
import { Rng } from '../rng.js';
import { warmupStepsFor } from '../train/schedule.js';
import { initWeights } from '../train/init.js';
import { createTrainable } from '../train/trainable.js';
import { train, evaluate, DEFAULT_TRAIN_OPTIONS, stepsPerEpoch, type Example, type ExampleSource, type ProgressSink, type TrainOptions, type TrainRun, type EvalResult } from '../train/trainer.js';
import { clipExampleSource } from './example-source.js';
import type { ParquetColumns } from './parquet-dataset.js';
import { dirSource } from './files.js';
import { resolveNodeSource } from './resolve.js';
import { readLabelledClips } from './training-data.js';
import { findSplits, splitFolder, type SplitName } from './data-splits.js';
import { FolderCheckpointStore, latestCheckpoint, readTrainerState } from './checkpoints.js';

export interface TrainCommand extends Partial<TrainOptions>, Pick<RuntimeOptions, 'threads'> {
  data: string;
  /** Parquet datasets: the audio and label columns (default `audio`, `label`). */
  columns?: ParquetColumns;
  out: string;
  /** Pretrained checkpoint (folder or Hub id). */
  model?: string;
  /** config.json-style JSON file for training from scratch. */
  config?: string;
  validationData?: string;
  validationSplit?: number;
  maxLength?: number;
  frequencyStride?: number;
  timeStride?: number;
  /** 'compute' (default), 'checkpoint' (keep the pretrained preprocessor's), or explicit numbers. */
  normStats?: 'compute' | 'checkpoint' | { mean: number; std: number };
  resume?: string | boolean;
  /** Trade speed for memory: ORT without its memory arena (about 2x slower, a third less peak memory). */
  lowMemory?: boolean;
  warmupRatio?: number;
  progress?: ProgressSink;
  /** Keep at most this many epoch checkpoints, the best (lowest validation loss) among them; 0 or unset: all. */
  saveTotalLimit?: number;
  /** Tests: stop after this many epochs (a simulated kill). */
  stopAfterEpoch?: number;
}

/**
 * Decodes every clip and keeps its raw (un-normalised) fbank in memory; waveforms too when mixup needs them.
 * (`train` and `eval` no longer do this: they read clips a batch at a time through `clipExampleSource`.)
 */
export async function loadExamples(
  clips: LabelledClip[],
  labels: string[],
  multiLabel: boolean,
  fe: ASTFeatureExtractor,
  keepWaveforms: boolean,
): Promise<Example[]> {
  const source = clipExampleSource(clips, labels, multiLabel, fe, keepWaveforms);
  const out: Example[] = [];
  for (let i = 0; i < source.length; i++) out.push(await source.example(i));
  return out;
}

/**
 * The AST repo's get_norm_stats over the training clips' raw padded fbank (AUDIO's accumulator), one clip
 * at a time: the clips are read once more, and only one clip's features are held.
 */
export async function normStats(examples: ExampleSource): Promise<{ mean: number; std: number }> {
  const acc = new NormStatsAccumulator();
  for (let i = 0; i < examples.length; i++) acc.add((await examples.example(i)).features);
  const { mean, std } = acc.result();
  return { mean, std };
}

/** A JSON file given on the command line (--config), errors naming it. */
function readJsonFile(path: string): Record<string, unknown> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  return parseJson(bytes, path) as Record<string, unknown>;
}

function labelsJson(labels: string[]): { id2label: Record<string, string>; label2id: Record<string, number>; num_labels: number } {
  return {
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    num_labels: labels.length,
  };
}

/** Own copies: the optimiser updates weights in place, never the checkpoint's buffer. */
function ownCopies(weights: Map<string, Float32Tensor>): Map<string, Float32Tensor> {
  return new Map([...weights].map(([k, t]) => [k, { ...t, data: Float32Array.from(t.data) }]));
}

/** The model and data of a training run, ready for `train` (the caller may dispose `run.model`). */
export interface PreparedTraining {
  run: TrainRun & { model: Awaited<ReturnType<typeof createTrainable>> };
  outDir: string;
}

/** Step 1 of `ast-audio train`: data, features, model (pretrained, resumed or fresh), norm stats, store. */
export async function prepareTraining(cmd: TrainCommand): Promise<PreparedTraining> {
  const log = (m: string): void => (cmd.progress ? cmd.progress.log(m) : undefined);
  const o: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS };
  for (const k of Object.keys(DEFAULT_TRAIN_OPTIONS) as (keyof TrainOptions)[]) {
    if (cmd[k] !== undefined) (o as unknown as Record<string, unknown>)[k] = cmd[k];
  }

  // ---- resume: everything (config, weights, stats, options) comes from the checkpoint
  let resumeDir: string | undefined;
  if (cmd.resume) {
    resumeDir = latestCheckpoint(typeof cmd.resume === 'string' ? cmd.resume : cmd.out);
    if (!resumeDir) throw new Error(`--resume: no checkpoint-epoch-N or checkpoint-step-N folder with trainer_state.json in ${typeof cmd.resume === 'string' ? cmd.resume : cmd.out}`);
  }

  // Hugging Face's audiofolder layout (data/train, data/validation, data/test): train on train/, validate on
  // validation/, and never read test/.
  const splits = findSplits(cmd.data);
  const trainSource = splits ? splitFolder(splits, 'train') : cmd.data;
  const validationSource = cmd.validationData ?? splits?.folders.validation;
  if (splits) {
    const unused = splits.folders.test ? `; ${splits.folders.test} is left for eval` : '';
    log(`split layout: training on ${trainSource}${validationSource ? `, validating on ${validationSource}` : ''}${unused}`);
  }
  const clips = await readLabelledClips(trainSource, cmd.columns);
  let { labels, multiLabel } = labelSet(clips);
  const overrides = {
    ...(cmd.maxLength ? { max_length: cmd.maxLength } : {}),
    ...(cmd.frequencyStride ? { frequency_stride: cmd.frequencyStride } : {}),
    ...(cmd.timeStride ? { time_stride: cmd.timeStride } : {}),
  };

  let config: ASTConfig;
  let weights: Map<string, Float32Tensor>;
  let rawFe: ASTFeatureExtractor;
  if (resumeDir) {
    const loaded = await loadPretrained(dirSource(resumeDir), { head: 'classification' });
    ({ config, extractor: rawFe } = loaded);
    weights = ownCopies(loaded.weights);
    labels = config.labels;
    multiLabel = config.problem_type === 'multi_label_classification';
  } else if (cmd.model) {
    const loaded = await loadPretrained(await resolveNodeSource(cmd.model), {
      head: 'classification',
      preprocessor: 'optional',
      adapt: (pretrained) => {
        // the same label set as the checkpoint's: keep its order, so its head stays meaningful and is kept
        const same = pretrained.labels.length === labels.length && labels.every((l) => pretrained.labels.includes(l));
        if (same) labels = pretrained.labels;
        const json = {
          ...pretrained.toJSON(),
          ...labelsJson(labels),
          problem_type: multiLabel ? 'multi_label_classification' : 'single_label_classification',
          ...overrides,
        };
        return ASTConfig.fromJSON(json, `${cmd.model} with the new label set`);
      },
      weightOptions: { ignoreMismatchedHead: true, seed: o.seed },
    });
    for (const n of loaded.notices) log(`notice: ${n}`);
    ({ config, extractor: rawFe } = loaded);
    weights = ownCopies(loaded.weights);
  } else if (cmd.config) {
    const { feature_extractor: feOverride, ...fileJson } = readJsonFile(cmd.config);
    const json = {
      architectures: ['ASTForAudioClassification'],
      torch_dtype: 'float32',
      ...fileJson,
      ...labelsJson(labels),
      problem_type: multiLabel ? 'multi_label_classification' : 'single_label_classification',
      ...overrides,
    };
    config = ASTConfig.fromJSON(json, cmd.config);
    const feJson = { ...(typeof feOverride === 'object' && feOverride ? feOverride : {}), num_mel_bins: config.num_mel_bins, max_length: config.max_length };
    rawFe = ASTFeatureExtractor.fromConfig(feJson, `${cmd.config} (feature_extractor)`);
    weights = initWeights(config, o.seed);
    log(`training from scratch: ${config.num_hidden_layers} layers, hidden ${config.hidden_size}, ${labels.length} labels`);
  } else {
    throw new Error('train: give --model (a pretrained checkpoint), --config (a config.json to train from scratch) or --resume');
  }
  checkMaskWidths(o, config.max_length, config.num_mel_bins); // before minutes of feature extraction

  // ---- the clips; their features are made a batch at a time by the loop (raw fbank, normalised per batch)
  const splitRng = new Rng(o.seed ^ 0x5eed);
  let trainClips: LabelledClip[];
  let valClips: LabelledClip[];
  if (validationSource) {
    trainClips = clips;
    valClips = await readLabelledClips(validationSource, cmd.columns);
  } else {
    ({ train: trainClips, validation: valClips } = splitTrainValidation(clips, cmd.validationSplit ?? 0.1, splitRng));
  }
  log(`${trainClips.length} training clips, ${valClips.length} validation clips, ${labels.length} labels${multiLabel ? ' (multi-label)' : ''}`);
  const trainEx = clipExampleSource(trainClips, labels, multiLabel, rawFe, o.mixupAlpha > 0);
  const valEx = clipExampleSource(valClips, labels, multiLabel, rawFe, false);

  let { mean, std } = rawFe.config;
  if (!resumeDir) {
    const ns = cmd.normStats ?? 'compute';
    if (ns === 'compute') {
      const t0 = performance.now();
      ({ mean, std } = await normStats(trainEx));
      log(`norm stats of ${trainEx.length} clips in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      log(`dataset norm stats: mean ${mean.toFixed(6)}, std ${std.toFixed(6)}`);
    } else if (typeof ns === 'object') ({ mean, std } = ns);
  }
  const preprocessor = { ...rawFe.toJSON(), mean, std, do_normalize: true, feature_extractor_type: 'ASTFeatureExtractor' };
  const normalize: Normalization = { mean, scale: 2 * std };

  o.warmupSteps = warmupStepsFor(stepsPerEpoch(trainEx.length, o) * o.epochs, cmd.warmupSteps, cmd.warmupRatio);
  const model = await createTrainable(config, weights, { threads: cmd.threads, memoryArena: !cmd.lowMemory });
  const store = new FolderCheckpointStore(
    cmd.out,
    preprocessor,
    { train_options: o },
    { saveTotalLimit: cmd.saveTotalLimit, keepNewest: o.averageLast },
    log,
  );
  const resume = resumeDir ? readTrainerState(resumeDir) : undefined;
  if (resume) {
    checkResumeOptions(o, resume.extra.train_options, resumeDir!);
    const where = resume.position ? `, batch ${resume.position.batch} of epoch ${resume.epoch + 1}` : '';
    log(`resuming from ${resumeDir} (epoch ${resume.epoch}, step ${resume.step}${where})`);
  }
  const featurize = (w: Float32Array): Float32Array => rawFe.fbank(w, rawFe.config.sampling_rate).data;
  return {
    outDir: cmd.out,
    run: {
      model,
      train: trainEx,
      validation: valEx,
      multiLabel,
      input: { maxLength: config.max_length, numMelBins: config.num_mel_bins },
      normalize,
      options: o,
      store,
      progress: cmd.progress,
      featurize,
      resume,
      stopAfterEpoch: cmd.stopAfterEpoch,
    },
  };
}

/**
 * An exact resume needs the run's own settings: every option that shapes the trajectory (batches, schedule,
 * augmentation, seed) must equal the checkpoint's (trainer_state.json's train_options), or the resumed run
 * would silently become another one. Only --epochs (more training), --save-steps and --average-last may change.
 */
function checkResumeOptions(o: TrainOptions, saved: unknown, dir: string): void {
  if (typeof saved !== 'object' || saved === null) return; // a checkpoint from before train_options was saved
  const free = new Set<keyof TrainOptions>(['epochs', 'saveSteps', 'averageLast']);
  const diffs: string[] = [];
  for (const k of Object.keys(o) as (keyof TrainOptions)[]) {
    const was = (saved as Record<string, unknown>)[k];
    if (free.has(k) || was === undefined || was === o[k]) continue;
    diffs.push(`${k} ${JSON.stringify(o[k])} (the checkpoint's run: ${JSON.stringify(was)})`);
  }
  if (diffs.length) {
    throw new Error(`--resume ${dir}: these options differ from the run being resumed, which would not continue it exactly: ${diffs.join('; ')}. Give the options of the original run.`);
  }
}

/** `ast-audio train`: prepareTraining, then the training loop. */
export async function runTraining(cmd: TrainCommand): Promise<{ outDir: string; history: unknown[]; validation?: EvalResult }> {
  const { run, outDir } = await prepareTraining(cmd);
  try {
    const result = await train(run);
    const last = result.state.history[result.state.history.length - 1];
    return { outDir, history: result.state.history, validation: last?.validation };
  } finally {
    await run.model.dispose();
  }
}

/**
 * Which folder `eval` scores: `data` itself, or in the split layout the split asked for (default test/,
 * else validation/), with a line saying so.
 */
export function evalSource(data: string, split?: SplitName): { source: string; note?: string } {
  const splits = findSplits(data);
  if (!splits) {
    if (split) throw new Error(`--split ${split}: ${data} is not in the split layout (${data}/train/, ${data}/validation/, ${data}/test/)`);
    return { source: data };
  }
  const chosen = split ?? (splits.folders.test ? 'test' : splits.folders.validation ? 'validation' : undefined);
  if (!chosen) throw new Error(`${data}: split layout without a test/ or validation/ folder; give --split train to score the training clips`);
  const source = splitFolder(splits, chosen);
  return { source, note: `scoring the ${chosen} split: ${source}` };
}

/** `ast-audio eval`: loss and metrics of a checkpoint on a labelled set, through the inference graph. */
export async function runEval(
  modelDir: string,
  data: string,
  options: { batchSize?: number; columns?: ParquetColumns } & Pick<RuntimeOptions, 'threads' | 'dtype' | 'executionProviders'> = {},
): Promise<EvalResult> {
  const { config, extractor, weights } = await loadPretrained(await resolveNodeSource(modelDir), { head: 'classification' });
  const clips = await readLabelledClips(data, options.columns);
  const multiLabel = config.problem_type === 'multi_label_classification' || clips.some((c) => c.labels.length !== 1);
  const examples = clipExampleSource(clips, config.labels, multiLabel, extractor, false);
  const model = await ASTForAudioClassification.fromWeights(config, weights, { threads: options.threads, dtype: options.dtype, executionProviders: options.executionProviders });
  const fe = extractor.config;
  try {
    return await evaluate(
      { config, predict: async (inputValues) => (await model.forward({ inputValues })).logits },
      examples,
      multiLabel,
      { input: { maxLength: config.max_length, numMelBins: config.num_mel_bins }, normalize: fe.do_normalize ? { mean: fe.mean, scale: 2 * fe.std } : undefined },
      options.batchSize ?? 8,
    );
  } finally {
    await model.dispose();
  }
}
