/**
 * Checkpoints as folders on disk, written atomically: a whole epoch checkpoint goes to a temporary
 * folder that is renamed into place; final model files are each written to a temporary name and
 * renamed. A killed run never leaves a half-written checkpoint that --resume would read.
 */
import { mkdirSync, writeFileSync, renameSync, rmSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirSource, writeFileAtomic } from './files.js';
import { join } from 'node:path';
import type { Float32Tensor } from '../tensor.js';
import { loadPretrained } from '../model/pretrained.js';
import type { CheckpointStore, Trainable, TrainerState } from '../train/trainer.js';
import { modelFiles, trainerStateFiles, parseTrainerState, TRAINER_STATE_FILE, OPTIMIZER_FILE } from '../train/checkpoint.js';

export const epochDirName = (epoch: number): string => `checkpoint-epoch-${epoch}`;

export class FolderCheckpointStore implements CheckpointStore {
  constructor(
    readonly outDir: string,
    private readonly preprocessor: Record<string, unknown>,
    private readonly extraState: Record<string, unknown> = {},
  ) {
    mkdirSync(outDir, { recursive: true });
  }

  async saveEpoch(epoch: number, model: Trainable, state: TrainerState): Promise<string> {
    const files = {
      ...modelFiles(model.config.toJSON(), this.preprocessor, model.weights),
      ...trainerStateFiles(state, this.extraState),
    };
    const final = join(this.outDir, epochDirName(epoch));
    const tmp = join(this.outDir, `.${epochDirName(epoch)}.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(tmp, name), bytes);
    if (existsSync(final)) rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    return final;
  }

  async saveFinal(model: Trainable, weights: Map<string, Float32Tensor>): Promise<string> {
    mkdirSync(this.outDir, { recursive: true });
    for (const [name, bytes] of Object.entries(modelFiles(model.config.toJSON(), this.preprocessor, weights))) {
      await writeFileAtomic(join(this.outDir, name), bytes);
    }
    return this.outDir;
  }

  async loadEpochWeights(epoch: number): Promise<Map<string, Float32Tensor>> {
    return (await loadPretrained(dirSource(join(this.outDir, epochDirName(epoch))), { head: 'classification' })).weights;
  }
}

/** The newest complete epoch checkpoint under outDir (or the folder itself when it is one). */
export function latestCheckpoint(dirOrOut: string): string | undefined {
  if (existsSync(join(dirOrOut, TRAINER_STATE_FILE))) return dirOrOut;
  if (!existsSync(dirOrOut)) return undefined;
  const epochs = readdirSync(dirOrOut)
    .map((n) => /^checkpoint-epoch-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(dirOrOut, m[0], TRAINER_STATE_FILE)))
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  return epochs.length ? join(dirOrOut, epochDirName(epochs[epochs.length - 1]!)) : undefined;
}

export function readTrainerState(dir: string): ReturnType<typeof parseTrainerState> {
  return parseTrainerState(readFileSync(join(dir, TRAINER_STATE_FILE)), readFileSync(join(dir, OPTIMIZER_FILE)), dir);
}
