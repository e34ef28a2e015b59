/** Node training entry (`ast-audio/train` under Node): the Node entry's runtime, the training API, and the folder-based commands. */
export * from './index.js';
export * from '../train.js';
export { runTraining, prepareTraining, runEval, loadExamples } from './training.js';
export { clipExampleSource } from './example-source.js';
export type { TrainCommand, PreparedTraining } from './training.js';
export { readLabelledClips } from './training-data.js';
export { FolderCheckpointStore, latestCheckpoint, savePretrained } from './checkpoints.js';
