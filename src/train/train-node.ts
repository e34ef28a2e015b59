/**
 * `ast-audio train` as a function: data source -> cached features -> model (pretrained with a new
 * head, or fresh from a config) -> trainer -> HF-layout checkpoints. Node-only (reads files).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Float32Tensor } from '../tensor.js';
import { toFloat32 } from '../tensor.js';
import { ASTConfig } from '../model/config.js';
import { loadWeights } from '../model/weights.js';
import { readCheckpointTensors } from '../io/safetensors.js';
import { parseSafetensors } from '../io/safetensors.js';
import { parseJson, resolveSource } from '../io/files.js';
import { ASTFeatureExtractor, AST_FEATURE_EXTRACTOR_DEFAULTS, type ASTFeatureExtractorConfig } from '../audio/feature-extractor.js';
import { loadAudio } from '../node/audio.js';
import { NormStatsAccumulator } from '../audio/norm-stats.js';
import { labelSet, splitTrainValidation, type LabelledClip } from './dataset.js';
import { readLabelledClips } from './dataset-node.js';
import { Rng } from './rng.js';
import { warmupStepsFor } from './schedule.js';
import { initWeights } from './init.js';
import { createTrainable } from './trainable.js';
import { ASTForAudioClassification } from '../model/ast.js';
import { parseModelDtype, type ModelDtype } from '../model/dtype.js';
import { FolderCheckpointStore, latestCheckpoint, readTrainerState } from './checkpoint-node.js';
import {
  train,
  evaluate,
  DEFAULT_TRAIN_OPTIONS,
  stepsPerEpoch,
  type Example,
  type Normalisation,
  type ProgressSink,
  type TrainOptions,
  type Trainable,
  type EvalResult,
} from './trainer.js';

export interface TrainCommand extends Partial<TrainOptions> {
  data: string;
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
  threads?: number;
  /** Trade speed for memory: ORT without its memory arena (about 2x slower, a third less peak memory). */
  lowMemory?: boolean;
  warmupRatio?: number;
  progress?: ProgressSink;
  /** Tests: stop after this many epochs (a simulated kill). */
  stopAfterEpoch?: number;
}

const FE_DEFAULTS: ASTFeatureExtractorConfig = { ...AST_FEATURE_EXTRACTOR_DEFAULTS };

export interface LoadedClips {
  examples: Example[];
  clips: LabelledClip[];
}

/** Decodes every clip once and keeps its raw (un-normalised) fbank; waveforms too when mixup needs them. */
export async function loadExamples(
  clips: LabelledClip[],
  labels: string[],
  multiLabel: boolean,
  fe: ASTFeatureExtractor,
  keepWaveforms: boolean,
): Promise<Example[]> {
  const index = new Map(labels.map((l, i) => [l, i]));
  const out: Example[] = [];
  for (const c of clips) {
    const waveform = await loadAudio(c.path, { samplingRate: fe.config.sampling_rate });
    const features = fe.fbank(waveform, fe.config.sampling_rate, { source: c.path }).data; // [max_length, bins], raw log-mel
    const target = new Float32Array(labels.length);
    const labelIds: number[] = [];
    for (const l of c.labels) {
      const id = index.get(l);
      if (id === undefined) throw new Error(`${c.path}: label "${l}" is not one of the model's labels (${labels.join(', ')})`);
      target[id] = 1;
      labelIds.push(id);
    }
    if (!multiLabel && labelIds.length !== 1) throw new Error(`${c.path}: single-label data needs exactly one label, got ${c.labels.length}`);
    out.push({ features, target, labelIds, waveform: keepWaveforms ? waveform : undefined });
  }
  return out;
}

/** The AST repo's get_norm_stats over the training clips' raw padded fbank (AUDIO's accumulator). */
export function normStats(examples: Example[]): { mean: number; std: number } {
  const acc = new NormStatsAccumulator();
  for (const e of examples) acc.add(e.features);
  const { mean, std } = acc.result();
  return { mean, std };
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

function labelsJson(labels: string[]): { id2label: Record<string, string>; label2id: Record<string, number>; num_labels: number } {
  return {
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    num_labels: labels.length,
  };
}

export async function runTraining(cmd: TrainCommand): Promise<{ outDir: string; history: unknown[]; validation?: EvalResult }> {
  const log = (m: string): void => (cmd.progress ? cmd.progress.log(m) : undefined);
  const o: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS };
  for (const k of Object.keys(DEFAULT_TRAIN_OPTIONS) as (keyof TrainOptions)[]) {
    if (cmd[k] !== undefined) (o as unknown as Record<string, unknown>)[k] = cmd[k];
  }

  // ---- resume: everything (config, weights, stats, options) comes from the checkpoint
  let resumeDir: string | undefined;
  if (cmd.resume) {
    resumeDir = latestCheckpoint(typeof cmd.resume === 'string' ? cmd.resume : cmd.out);
    if (!resumeDir) throw new Error(`--resume: no checkpoint-epoch-N folder with trainer_state.json in ${typeof cmd.resume === 'string' ? cmd.resume : cmd.out}`);
  }

  const clips = readLabelledClips(cmd.data);
  let { labels, multiLabel } = labelSet(clips);

  let config: ASTConfig;
  let weights: Map<string, Float32Tensor>;
  let feJson: Record<string, unknown> = { ...FE_DEFAULTS };
  if (resumeDir) {
    config = ASTConfig.fromJSON(readJson(join(resumeDir, 'config.json')), join(resumeDir, 'config.json'));
    feJson = readJson(join(resumeDir, 'preprocessor_config.json'));
    const p = join(resumeDir, 'model.safetensors');
    weights = new Map([...parseSafetensors(readFileSync(p), p).tensors].map(([k, t]) => [k, { ...toFloat32(t), data: Float32Array.from(toFloat32(t).data) }]));
    labels = config.labels;
    multiLabel = config.problem_type === 'multi_label_classification';
  } else if (cmd.model) {
    const src = await resolveSource(cmd.model);
    const pretrained = await ASTConfig.fromPretrained(src);
    // the same label set as the checkpoint's: keep its order, so its head stays meaningful and is kept
    const same = pretrained.labels.length === labels.length && labels.every((l) => pretrained.labels.includes(l));
    if (same) labels = pretrained.labels;
    if (await src.exists('preprocessor_config.json')) {
      const name = 'preprocessor_config.json';
      feJson = { ...feJson, ...(parseJson(await src.read(name), src.describe(name)) as Record<string, unknown>) };
    }
    const json = {
      ...pretrained.toJSON(),
      ...labelsJson(labels),
      problem_type: multiLabel ? 'multi_label_classification' : 'single_label_classification',
      ...(cmd.maxLength ? { max_length: cmd.maxLength } : {}),
      ...(cmd.frequencyStride ? { frequency_stride: cmd.frequencyStride } : {}),
      ...(cmd.timeStride ? { time_stride: cmd.timeStride } : {}),
    };
    config = ASTConfig.fromJSON(json, `${cmd.model} with the new label set`);
    const tensors = await readCheckpointTensors(src);
    const loaded = loadWeights(config, tensors, 'classification', src.description, {
      ignoreMismatchedHead: true,
      checkpointGrid: pretrained,
      seed: o.seed,
    });
    for (const n of loaded.notices) log(`notice: ${n}`);
    // own copies: the optimiser updates weights in place
    weights = new Map([...loaded.weights].map(([k, t]) => [k, { ...t, data: Float32Array.from(t.data) }]));
  } else if (cmd.config) {
    const { feature_extractor: feOverride, ...fileJson } = readJson(cmd.config);
    const json = {
      architectures: ['ASTForAudioClassification'],
      torch_dtype: 'float32',
      ...fileJson,
      ...labelsJson(labels),
      problem_type: multiLabel ? 'multi_label_classification' : 'single_label_classification',
      ...(cmd.maxLength ? { max_length: cmd.maxLength } : {}),
      ...(cmd.frequencyStride ? { frequency_stride: cmd.frequencyStride } : {}),
      ...(cmd.timeStride ? { time_stride: cmd.timeStride } : {}),
    };
    config = ASTConfig.fromJSON(json, cmd.config);
    if (typeof feOverride === 'object' && feOverride) feJson = { ...feJson, ...(feOverride as object) };
    weights = initWeights(config, o.seed);
    log(`training from scratch: ${config.num_hidden_layers} layers, hidden ${config.hidden_size}, ${labels.length} labels`);
  } else {
    throw new Error('train: give --model (a pretrained checkpoint), --config (a config.json to train from scratch) or --resume');
  }
  feJson = { ...feJson, num_mel_bins: config.num_mel_bins, max_length: config.max_length };

  // ---- features, once per clip (raw fbank; normalised per batch)
  const rawFe = ASTFeatureExtractor.fromConfig(feJson, 'preprocessor_config.json');
  const splitRng = new Rng(o.seed ^ 0x5eed);
  let trainClips: LabelledClip[];
  let valClips: LabelledClip[];
  if (cmd.validationData) {
    trainClips = clips;
    valClips = readLabelledClips(cmd.validationData);
  } else {
    ({ train: trainClips, validation: valClips } = splitTrainValidation(clips, cmd.validationSplit ?? 0.1, splitRng));
  }
  log(`${trainClips.length} training clips, ${valClips.length} validation clips, ${labels.length} labels${multiLabel ? ' (multi-label)' : ''}`);
  const keepWaves = o.mixupAlpha > 0;
  const t0 = performance.now();
  const trainEx = await loadExamples(trainClips, labels, multiLabel, rawFe, keepWaves);
  const valEx = await loadExamples(valClips, labels, multiLabel, rawFe, false);
  log(`features of ${trainEx.length + valEx.length} clips in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  let mean = Number(feJson.mean);
  let std = Number(feJson.std);
  if (!resumeDir) {
    const ns = cmd.normStats ?? 'compute';
    if (ns === 'compute') {
      ({ mean, std } = normStats(trainEx));
      log(`dataset norm stats: mean ${mean.toFixed(6)}, std ${std.toFixed(6)}`);
    } else if (typeof ns === 'object') ({ mean, std } = ns);
  }
  feJson = { ...feJson, mean, std, do_normalize: true, feature_extractor_type: 'ASTFeatureExtractor' };
  const norm: Normalisation = { mean, std, doNormalize: true, maxLength: config.max_length, numMelBins: config.num_mel_bins };

  o.warmupSteps = warmupStepsFor(stepsPerEpoch(trainEx.length, o) * o.epochs, cmd.warmupSteps, cmd.warmupRatio);
  const model: Trainable = await createTrainable(config, weights, { threads: cmd.threads, memoryArena: !cmd.lowMemory });
  const store = new FolderCheckpointStore(cmd.out, feJson, { train_options: o });
  const resume = resumeDir ? readTrainerState(resumeDir) : undefined;
  if (resume) log(`resuming from ${resumeDir} (epoch ${resume.epoch}, step ${resume.step})`);
  const featurize = (w: Float32Array): Float32Array => rawFe.fbank(w, rawFe.config.sampling_rate).data;
  const result = await train({
    model,
    train: trainEx,
    validation: valEx,
    multiLabel,
    norm,
    options: o,
    store,
    progress: cmd.progress,
    featurize,
    resume,
    stopAfterEpoch: cmd.stopAfterEpoch,
  });
  const last = result.state.history[result.state.history.length - 1];
  return { outDir: cmd.out, history: result.state.history, validation: last?.validation };
}

/** `ast-audio eval`: loss and metrics of a checkpoint on a labelled set. */
export async function runEval(modelDir: string, data: string, options: { batchSize?: number; threads?: number; dtype?: ModelDtype } = {}): Promise<EvalResult> {
  const dtype = parseModelDtype(options.dtype ?? 'fp32', '--dtype');
  const src = await resolveSource(modelDir);
  const config = await ASTConfig.fromPretrained(src);
  const fe = await ASTFeatureExtractor.fromPretrained(src);
  const tensors = await readCheckpointTensors(src);
  const { weights } = loadWeights(config, tensors, 'classification', src.description);
  const clips = readLabelledClips(data);
  const multiLabel = config.problem_type === 'multi_label_classification' || clips.some((c) => c.labels.length !== 1);
  const examples = await loadExamples(clips, config.labels, multiLabel, fe, false);
  // fp32: the training graph's predict (what training validates with); fp16 / q8: the inference model in that dtype
  const lowPrecision = dtype === 'fp32' ? undefined : await ASTForAudioClassification.fromWeights(config, weights, { threads: options.threads, dtype });
  const model = lowPrecision
    ? { config, predict: async (inputValues: Float32Tensor) => (await lowPrecision.forward({ inputValues })).logits }
    : await createTrainable(config, weights, { threads: options.threads });
  try {
    return await evaluate(
      model,
      examples,
      multiLabel,
      { mean: fe.config.mean, std: fe.config.std, doNormalize: fe.config.do_normalize, maxLength: config.max_length, numMelBins: config.num_mel_bins },
      options.batchSize ?? 8,
    );
  } finally {
    await lowPrecision?.dispose();
  }
}

