/**
 * The browser-safe training API (`ast-audio/train`): the training graph, losses, autodiff, AdamW,
 * schedules, metrics and the loop. A separate entry from inference (`index.ts`) so that a page that
 * only classifies bundles none of it. Platform entries (`node/train.ts`, `web/train.ts`) register
 * their runtime and re-export this. Re-exports only.
 */
export { ASTTrainable, createTrainable, buildTrainingGraph } from './train/trainable.js';
export type { GradientsOutput, TrainableOptions, TrainableLoadOptions } from './train/trainable.js';
export { gradients, VJP } from './graph/grad.js';
export { inferProblemType, lossTerms, lossGraph, referenceLoss, toLabels } from './model/loss.js';
export type { Labels, LabelsInput, LossTerms } from './model/loss.js';
export { AdamW } from './train/adamw.js';
export { lrMultiplier, warmupStepsFor } from './train/schedule.js';
export { clipGradNorm } from './train/clip.js';
export { accuracy, averagePrecision, rocAuc, dPrime, multiLabelMetrics } from './train/metrics.js';
export { train, evaluate, examplesInMemory } from './train/trainer.js';
export type { Trainable, TrainOptions, Example, ExampleSource, EvalResult } from './train/trainer.js';
export { DEFAULT_TRAIN_OPTIONS, formatEval, silentProgress } from './train/trainer.js';
export type { FeatureSpec, TrainRun, TrainerState, CheckpointStore, ProgressSink } from './train/trainer.js';
export { Rng } from './rng.js';
export type { RngState } from './rng.js';
export { initWeights } from './train/init.js';
