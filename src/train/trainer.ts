/**
 * The training loop: epochs of (shuffled or balanced) mini-batches, SpecAugment and mixup, gradients
 * from the training graph, accumulation, clipping, AdamW with an HF schedule, validation metrics,
 * and a resumable checkpoint per epoch and every `saveSteps` optimiser steps. Browser-safe: checkpoints
 * go through a `CheckpointStore` (node/checkpoints.ts writes folders); features come already extracted.
 *
 * Exact resume: the state saved with a checkpoint (weights, Adam moments, step, RNG state, and inside an
 * epoch the batch reached, the RNG state the epoch's order was drawn from and the epoch's running loss)
 * is all the loop reads, so resuming replays the rest identically to an uninterrupted run.
 */
import type { Float32Tensor } from '../tensor.js';
import type { ASTConfig } from '../model/config.js';
import { lossTerms, referenceLoss, type Labels, type ProblemType } from '../model/loss.js';
import type { InputSpec } from '../model/pretrained.js';
import type { Normalization } from '../audio/fbank.js';
import { Batcher } from '../pipeline/batcher.js';
import { AdamW, hfNoDecay } from './adamw.js';
import { lrMultiplier, type ScheduleKind } from './schedule.js';
import { clipGradNorm } from './clip.js';
import { Rng, type RngState } from '../rng.js';
import { epochOrder } from './dataset.js';
import { checkMaskWidths, specAugment, mixWaveforms, mixTargets } from './augment.js';
import { accuracy, multiLabelMetrics } from './metrics.js';

/** What the loop needs from a model: its weights (updated in place) and a gradient step. */
export interface Trainable {
  readonly config: ASTConfig;
  readonly weights: Map<string, Float32Tensor>;
  computeGradients(i: {
    inputValues: Float32Tensor;
    labels: Labels;
    problemType?: ProblemType;
  }): Promise<{ loss: number; logits: Float32Tensor; grads: Map<string, Float32Tensor> }>;
  /** Logits only (evaluation). */
  predict(inputValues: Float32Tensor): Promise<Float32Tensor>;
}

/** One training clip: raw (un-normalised) padded fbank [maxLength, bins], its target row, its waveform for mixup. */
export interface Example {
  features: Float32Array;
  /** Single-label: one-hot; multi-label: 0/1 per label. Length num_labels. */
  target: Float32Array;
  /** Class ids (for balanced sampling and accuracy). */
  labelIds: number[];
  waveform?: Float32Array;
}

/**
 * A set of clips whose features are made when a batch needs them: the labels are held (the order, balanced
 * sampling and the metrics need every clip's), each clip's features are computed (or read back) by `example`,
 * so a set larger than memory trains. An `Example[]` is the in-memory case (`examplesInMemory`).
 */
export interface ExampleSource {
  readonly length: number;
  /** Class ids of clip `i` (without computing its features). */
  labelIds(i: number): number[];
  /** Clip `i`: its raw features and target (and its waveform where the source keeps them, for mixup). */
  example(i: number): Promise<Example>;
}

/** An in-memory set as an ExampleSource. */
export function examplesInMemory(examples: readonly Example[]): ExampleSource {
  return {
    length: examples.length,
    labelIds: (i) => examples[i]!.labelIds,
    example: async (i) => examples[i]!,
  };
}

const asSource = (x: readonly Example[] | ExampleSource): ExampleSource => (Array.isArray(x) ? examplesInMemory(x) : (x as ExampleSource));

/**
 * The examples of `indices`, loaded together; a failure is held until awaited (loaded a batch ahead, it may
 * reject before the loop gets to it, which must not count as an unhandled rejection).
 */
function loadBatch(source: ExampleSource, indices: readonly number[], check: (e: Example) => void): Promise<Example[]> {
  const p = Promise.all(indices.map(async (i) => {
    const e = await source.example(i);
    check(e);
    return e;
  }));
  p.catch(() => {});
  return p;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  schedule: ScheduleKind;
  warmupSteps: number;
  gradientAccumulationSteps: number;
  /** 0 disables clipping (HF default 1.0). */
  maxGradNorm: number;
  seed: number;
  /** Max mask widths (0 disables). */
  freqMask: number;
  timeMask: number;
  /** Mixup Beta(α, α); 0 disables. */
  mixupAlpha: number;
  /** Probability a batch is mixed (AST: 0.5 on AudioSet). */
  mixupProb: number;
  balanced: boolean;
  /** Average the weights of the last N epoch checkpoints into the final model (0/1: off). */
  averageLast: number;
  /**
   * A resumable checkpoint every this many optimiser steps inside an epoch (HF's `save_steps`), so a
   * killed run loses at most this many steps; 0 or absent: only the per-epoch checkpoints.
   */
  saveSteps?: number;
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  epochs: 5,
  batchSize: 8,
  lr: 5e-5,
  weightDecay: 0,
  schedule: 'linear',
  warmupSteps: 0,
  gradientAccumulationSteps: 1,
  maxGradNorm: 1,
  seed: 42,
  freqMask: 0,
  timeMask: 0,
  mixupAlpha: 0,
  mixupProb: 0.5,
  balanced: false,
  averageLast: 0,
  saveSteps: 500,
};

/**
 * How raw (un-normalised, padded) fbank rows become model input: the shape of a row and ASTFeatureExtractor's
 * normalisation, (x − mean) / scale with scale = 2 · std (undefined: do_normalize false, rows used as they are).
 */
export interface FeatureSpec {
  input: Pick<InputSpec, 'maxLength' | 'numMelBins'>;
  normalize?: Normalization;
}

/** Everything a checkpoint saves and --resume reads back. */
export interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  /** Optimiser steps taken (the LR schedule's position). */
  step: number;
  rng: RngState;
  adam: { step: number; expAvg: Map<string, Float32Array>; expAvgSq: Map<string, Float32Array> };
  history: EpochLog[];
  /** Set when the checkpoint was taken inside epoch `epoch + 1` (a step checkpoint); absent at an epoch's end. */
  position?: EpochPosition;
}

/** How far into an epoch a step checkpoint was taken: enough to replay the rest of the epoch exactly. */
export interface EpochPosition {
  /** Mini-batches of the epoch already done (the next one to run). */
  batch: number;
  /** The RNG state the epoch's order was drawn from (the order is drawn again from it on resume). */
  epochRng: RngState;
  /** The epoch's running training loss: Σ loss · clips and Σ clips so far (the epoch's log reports their ratio). */
  lossSum: number;
  lossCount: number;
}

export interface EpochLog {
  epoch: number;
  step: number;
  trainLoss: number;
  validation?: EvalResult;
}

export interface EvalResult {
  loss: number;
  accuracy?: number;
  mAP?: number;
  mAUC?: number;
  dPrime?: number;
  clips: number;
}

export interface CheckpointStore {
  /** Saves one epoch's checkpoint (model files + trainer state), atomically. */
  saveEpoch(epoch: number, model: Trainable, state: TrainerState): Promise<string>;
  /** Saves a checkpoint inside an epoch after optimiser step `step` (state.position is set), atomically. */
  saveStep(step: number, model: Trainable, state: TrainerState): Promise<string>;
  /** Saves the final model (HF layout only). */
  saveFinal(model: Trainable, weights: Map<string, Float32Tensor>): Promise<string>;
  /** Weights of an earlier epoch (weight averaging). */
  loadEpochWeights(epoch: number): Promise<Map<string, Float32Tensor>>;
}

export interface ProgressSink {
  start(epoch: number, total: number): void;
  update(done: number, info: { loss: number; clipsPerSecond: number; lr: number }): void;
  stop(): void;
  log(message: string): void;
}

export const silentProgress: ProgressSink = { start() {}, update() {}, stop() {}, log() {} };

export interface TrainRun {
  model: Trainable;
  /** The clips, in memory or as a source that computes each batch's features when it is needed. */
  train: readonly Example[] | ExampleSource;
  validation: readonly Example[] | ExampleSource;
  multiLabel: boolean;
  input: FeatureSpec['input'];
  normalize?: Normalization;
  options: TrainOptions;
  store?: CheckpointStore;
  progress?: ProgressSink;
  /** Raw fbank of a waveform (needed for mixup only). */
  featurize?: (waveform: Float32Array) => Float32Array;
  resume?: TrainerState;
  /** Stop after this many epochs of this call (tests simulate a killed run). */
  stopAfterEpoch?: number;
  now?: () => number;
}

/** The check every clip passes before it is used: features [maxLength x numMelBins] and a target per label. */
function exampleCheck(maxLength: number, numMelBins: number, numLabels: number, who = 'train'): (e: Example) => void {
  const frameSize = maxLength * numMelBins;
  return (e) => {
    if (e.features.length !== frameSize) throw new Error(`${who}: a clip has ${e.features.length} feature values, expected ${maxLength} x ${numMelBins}`);
    if (e.target.length !== numLabels) throw new Error(`${who}: a target has ${e.target.length} labels, the model has ${numLabels}`);
  };
}

export function stepsPerEpoch(nTrain: number, o: TrainOptions): number {
  return Math.ceil(Math.ceil(nTrain / o.batchSize) / o.gradientAccumulationSteps);
}

/** A raw row normalised as ASTFeatureExtractor does (a fresh array; the raw row is kept for the next epoch). */
function normalise(raw: Float32Array, normalize: Normalization | undefined): Float32Array {
  if (!normalize) return raw;
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = (raw[i]! - normalize.mean) / normalize.scale;
  return out;
}

export async function train(run: TrainRun): Promise<{ state: TrainerState; finalDir?: string }> {
  const { model, options: o } = run;
  const norm: FeatureSpec = { input: run.input, normalize: run.normalize };
  const { maxLength, numMelBins } = run.input;
  const progress = run.progress ?? silentProgress;
  const now = run.now ?? (() => performance.now());
  const trainSet = asSource(run.train);
  const validationSet = asSource(run.validation);
  if (trainSet.length === 0) throw new Error('train: no training clips');
  checkMaskWidths(o, maxLength, numMelBins);
  const L = model.config.num_labels;
  const problemType: ProblemType = run.multiLabel ? 'multi_label_classification' : 'single_label_classification';
  const check = exampleCheck(maxLength, numMelBins, L);
  // in-memory clips are checked before the first step; a source's, as each is loaded
  for (const set of [run.train, run.validation]) if (Array.isArray(set)) (set as readonly Example[]).forEach(check);
  if (o.mixupAlpha > 0 && !run.featurize) throw new Error('train: mixup needs waveforms and a featurizer');
  const saveSteps = o.saveSteps ?? 0;
  if (!(Number.isInteger(saveSteps) && saveSteps >= 0)) throw new Error(`train: saveSteps must be 0 (off) or a positive integer, got ${saveSteps}`);

  const opt = new AdamW({ lr: o.lr, weightDecay: o.weightDecay, noDecay: hfNoDecay });
  const rng = new Rng(run.resume ? run.resume.rng : o.seed);
  let step = 0;
  let startEpoch = 0;
  const history: EpochLog[] = [];
  if (run.resume) {
    const r = run.resume;
    opt.state = { step: r.adam.step, expAvg: r.adam.expAvg, expAvgSq: r.adam.expAvgSq };
    step = r.step;
    startEpoch = r.epoch;
    history.push(...r.history);
  }
  const perEpoch = stepsPerEpoch(trainSet.length, o);
  const batcher = new Batcher<number>({ maxBatch: o.batchSize, maxLength, numMelBins });
  const totalSteps = perEpoch * o.epochs;

  let state: TrainerState = { epoch: startEpoch, step, rng: rng.state, adam: opt.state, history };
  let lastEpoch = startEpoch;
  for (let epoch = startEpoch; epoch < o.epochs; epoch++) {
    if (run.stopAfterEpoch !== undefined && epoch - startEpoch >= run.stopAfterEpoch) break;
    // resuming inside this epoch: its order is drawn again from the state it was first drawn from, and the
    // main RNG goes on from where the checkpoint left it (augmentation and mixup of the batches to come)
    const at = epoch === startEpoch ? run.resume?.position : undefined;
    const epochRng = at ? at.epochRng : rng.state;
    const order = epochOrder(Array.from({ length: trainSet.length }, (_, i) => trainSet.labelIds(i)), L, o.balanced, at ? new Rng(at.epochRng) : rng);
    const nBatches = Math.ceil(order.length / o.batchSize);
    if (at && !(Number.isInteger(at.batch) && at.batch > 0 && at.batch < nBatches)) {
      throw new Error(`train: the checkpoint was taken at batch ${at.batch} of epoch ${epoch + 1}, which has ${nBatches} batches with this data and batch size`);
    }
    progress.start(epoch + 1, order.length);
    let lossSum = at?.lossSum ?? 0;
    let lossCount = at?.lossCount ?? 0;
    let done = Math.min(order.length, (at?.batch ?? 0) * o.batchSize);
    const t0 = now();
    let acc: Map<string, Float32Tensor> | undefined;
    let accCount = 0;
    // each batch's clips are asked for before the batch ahead of it runs (its order is known; no RNG is drawn
    // for it): a source's reads proceed meanwhile, and its CPU work wherever the source runs it
    const batchAt = (bi: number) => order.slice(bi * o.batchSize, (bi + 1) * o.batchSize);
    let nextBatch: Promise<Example[]> | undefined = loadBatch(trainSet, batchAt(at?.batch ?? 0), check);
    for (let bi = at?.batch ?? 0; bi < nBatches; bi++) {
      const examples: Example[] = await nextBatch!;
      nextBatch = bi + 1 < nBatches ? loadBatch(trainSet, batchAt(bi + 1), check) : undefined;
      const B = examples.length;
      const target = new Float32Array(B * L);
      const mix = o.mixupAlpha > 0 && rng.uniform() < o.mixupProb;
      for (let k = 0; k < B; k++) {
        const ex = examples[k]!;
        let raw = ex.features;
        let tgt = ex.target;
        if (mix) {
          const other = (await loadBatch(trainSet, [rng.int(trainSet.length)], check))[0]!;
          const lambda = rng.beta(o.mixupAlpha, o.mixupAlpha);
          raw = run.featurize!(mixWaveforms(ex.waveform!, other.waveform!, lambda));
          tgt = mixTargets(ex.target, other.target, lambda);
        } else if (o.freqMask > 0 || o.timeMask > 0) {
          raw = Float32Array.from(raw);
        }
        if (o.freqMask > 0 || o.timeMask > 0) {
          // masked cells are raw zeros, normalised afterwards, as the AST recipe masks before normalising
          specAugment(raw, maxLength, numMelBins, { freqMask: o.freqMask, timeMask: o.timeMask, maskValue: 0 }, rng);
        }
        void batcher.add(k, normalise(raw, run.normalize));
        target.set(tgt, k * L);
      }
      const labels: Labels = { dtype: 'float32', dims: [B, L], data: target };
      const out = await model.computeGradients({ inputValues: batcher.take()!.inputValues, labels, problemType });
      if (!Number.isFinite(out.loss)) throw new Error(`train: loss became ${out.loss} at epoch ${epoch + 1}, step ${step}`);
      lossSum += out.loss * B;
      lossCount += B;
      // HF divides each micro-batch loss by the accumulation steps: gradients are averaged
      const scale = 1 / o.gradientAccumulationSteps;
      if (!acc && scale === 1) {
        // no accumulation: the step's own gradient buffers are the sum (g * 1 is g, bit for bit), not a copy of them
        acc = out.grads;
      } else if (!acc) {
        acc = new Map();
        for (const [k, g] of out.grads) {
          const d = new Float32Array(g.data.length);
          for (let i = 0; i < d.length; i++) d[i] = g.data[i]! * scale;
          acc.set(k, { dtype: 'float32', dims: g.dims, data: d });
        }
      } else {
        for (const [k, g] of out.grads) {
          const d = acc.get(k)!.data;
          for (let i = 0; i < d.length; i++) d[i]! += g.data[i]! * scale;
        }
      }
      accCount++;
      if (accCount === o.gradientAccumulationSteps || bi === nBatches - 1) {
        if (o.maxGradNorm > 0) clipGradNorm(acc, o.maxGradNorm);
        const lr = o.lr * lrMultiplier(step, { kind: o.schedule, warmupSteps: o.warmupSteps, totalSteps });
        opt.step(model.weights, acc, lr);
        step++;
        acc = undefined;
        accCount = 0;
        // a step checkpoint, except after an epoch's last batch (the epoch checkpoint follows at once)
        if (run.store && saveSteps > 0 && step % saveSteps === 0 && bi < nBatches - 1) {
          const position: EpochPosition = { batch: bi + 1, epochRng, lossSum, lossCount };
          const dir = await run.store.saveStep(step, model, { epoch, step, rng: rng.state, adam: opt.state, history, position });
          progress.log(`saved ${dir}`);
        }
      }
      done += B;
      const secs = (now() - t0) / 1000;
      progress.update(done, { loss: lossSum / lossCount, clipsPerSecond: secs > 0 ? done / secs : 0, lr: o.lr * lrMultiplier(step, { kind: o.schedule, warmupSteps: o.warmupSteps, totalSteps }) });
    }
    progress.stop();
    const log: EpochLog = { epoch: epoch + 1, step, trainLoss: lossSum / lossCount };
    if (validationSet.length > 0) {
      log.validation = await evaluate(model, validationSet, run.multiLabel, norm, o.batchSize);
      progress.log(`epoch ${epoch + 1}: train loss ${log.trainLoss.toFixed(4)}, ${formatEval(log.validation)}`);
    } else {
      progress.log(`epoch ${epoch + 1}: train loss ${log.trainLoss.toFixed(4)}`);
    }
    history.push(log);
    state = { epoch: epoch + 1, step, rng: rng.state, adam: opt.state, history };
    lastEpoch = epoch + 1;
    if (run.store) {
      const dir = await run.store.saveEpoch(epoch + 1, model, state);
      progress.log(`saved ${dir}`);
    }
  }

  let finalDir: string | undefined;
  if (run.store && lastEpoch === o.epochs) {
    let weights = model.weights;
    if (o.averageLast > 1) {
      const first = Math.max(1, o.epochs - o.averageLast + 1);
      weights = await averageEpochs(run.store, first, o.epochs);
      progress.log(`final weights: average of epochs ${first}..${o.epochs}`);
    }
    finalDir = await run.store.saveFinal(model, weights);
    progress.log(`saved ${finalDir}`);
  }
  return { state, finalDir };
}

async function averageEpochs(store: CheckpointStore, first: number, last: number): Promise<Map<string, Float32Tensor>> {
  const sum = new Map<string, Float64Array>();
  const dims = new Map<string, readonly number[]>();
  for (let e = first; e <= last; e++) {
    for (const [k, t] of await store.loadEpochWeights(e)) {
      let s = sum.get(k);
      if (!s) {
        s = new Float64Array(t.data.length);
        sum.set(k, s);
        dims.set(k, t.dims);
      }
      for (let i = 0; i < s.length; i++) s[i]! += t.data[i]!;
    }
  }
  const n = last - first + 1;
  const out = new Map<string, Float32Tensor>();
  for (const [k, s] of sum) out.set(k, { dtype: 'float32', dims: dims.get(k)!, data: Float32Array.from(s, (v) => v / n) });
  return out;
}

export function formatEval(r: EvalResult): string {
  const parts = [`val loss ${r.loss.toFixed(4)}`];
  if (r.accuracy !== undefined) parts.push(`accuracy ${(100 * r.accuracy).toFixed(2)} %`);
  if (r.mAP !== undefined) parts.push(`mAP ${r.mAP.toFixed(4)}`, `AUC ${r.mAUC!.toFixed(4)}`, `d′ ${r.dPrime!.toFixed(3)}`);
  return parts.join(', ');
}

/**
 * Loss and metrics of a labelled set (no augmentation); `model.predict` gives logits [B, num_labels].
 * A batch at a time (the next one loaded while one runs): only the scores and targets of the whole set are held.
 */
export async function evaluate(
  model: Pick<Trainable, 'config' | 'predict'>,
  examples: readonly Example[] | ExampleSource,
  multiLabel: boolean,
  features: FeatureSpec,
  batchSize: number,
): Promise<EvalResult> {
  const L = model.config.num_labels;
  const set = asSource(examples);
  const n = set.length;
  const batcher = new Batcher<number>({ maxBatch: batchSize, ...features.input });
  const check = exampleCheck(features.input.maxLength, features.input.numMelBins, L, 'evaluate');
  const scores = new Float32Array(n * L);
  const targets = new Float32Array(n * L);
  const batchAt = (start: number) => Array.from({ length: Math.min(batchSize, n - start) }, (_, k) => start + k);
  let next = n > 0 ? loadBatch(set, batchAt(0), check) : undefined;
  for (let start = 0; start < n; start += batchSize) {
    const batch = await next!;
    next = start + batchSize < n ? loadBatch(set, batchAt(start + batchSize), check) : undefined;
    const rows = batch.map((e, k) => batcher.add(start + k, normalise(e.features, features.normalize)));
    await batcher.runNext((x) => model.predict(x));
    for (let k = 0; k < batch.length; k++) {
      scores.set(await rows[k]!, (start + k) * L);
      targets.set(batch[k]!.target, (start + k) * L);
    }
  }
  // the loss the training graph computes (HF's, by problem type), evaluated in float64 over the whole set
  const problemType: ProblemType = multiLabel ? 'multi_label_classification' : 'single_label_classification';
  const terms = lossTerms({ num_labels: L, problem_type: problemType }, { dtype: 'float32', dims: [n, L], data: targets }, n);
  const loss = referenceLoss({ dtype: 'float32', dims: [n, L], data: scores }, terms);
  if (multiLabel) {
    const m = multiLabelMetrics(scores, targets, L);
    return { loss, mAP: m.mAP, mAUC: m.mAUC, dPrime: m.dPrime, clips: n };
  }
  const truth = Array.from({ length: n }, (_, i) => set.labelIds(i)[0] ?? -1);
  return { loss, accuracy: accuracy(scores, L, truth), clips: n };
}
