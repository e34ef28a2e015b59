/**
 * Checkpoints as folders on disk, written atomically: a whole checkpoint (epoch or step) goes to a
 * temporary folder that is renamed into place; final model files are each written to a temporary name
 * and renamed. A killed run never leaves a half-written checkpoint that --resume would read, and the
 * temporaries a killed run left behind are removed when the next run opens the folder.
 *
 * checkpoint-epoch-N/ after each epoch; checkpoint-step-S/ every --save-steps optimiser steps inside an
 * epoch. A step checkpoint only serves --resume, so each newer checkpoint (of either kind) replaces the
 * step checkpoints before it: a run keeps at most one.
 */
import { mkdirSync, writeFileSync, renameSync, rmSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirSource, writeFileAtomic } from './files.js';
import { join } from 'node:path';
import type { Float32Tensor } from '../tensor.js';
import { loadPretrained } from '../model/pretrained.js';
import type { CheckpointStore, Trainable, TrainerState } from '../train/trainer.js';
import { modelFiles, trainerStateFiles, parseTrainerState, TRAINER_STATE_FILE, OPTIMIZER_FILE } from '../train/checkpoint.js';
import { parseJson } from '../io/files.js';

/**
 * Writes a model's checkpoint files (`model.toFiles()`: config.json, model.safetensors, preprocessor_config.json)
 * into `dir`, each atomically (a temporary name, then a rename), creating the folder. Returns `dir`.
 */
export async function savePretrained(dir: string, model: { toFiles(): Record<string, Uint8Array> }): Promise<string> {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(model.toFiles())) await writeFileAtomic(join(dir, name), bytes);
  return dir;
}

export const epochDirName = (epoch: number): string => `checkpoint-epoch-${epoch}`;
export const stepDirName = (step: number): string => `checkpoint-step-${step}`;
const CHECKPOINT_DIR = /^checkpoint-(epoch|step)-(\d+)$/;

export class FolderCheckpointStore implements CheckpointStore {
  constructor(
    readonly outDir: string,
    private readonly preprocessor: Record<string, unknown>,
    private readonly extraState: Record<string, unknown> = {},
  ) {
    mkdirSync(outDir, { recursive: true });
    removeStaleTemporaries(outDir);
  }

  async saveEpoch(epoch: number, model: Trainable, state: TrainerState): Promise<string> {
    const files = {
      ...modelFiles(model.config.toJSON(), this.preprocessor, model.weights),
      ...trainerStateFiles(state, this.extraState),
    };
    const final = this.writeCheckpoint(epochDirName(epoch), files);
    this.removeStepCheckpoints(state.step);
    return final;
  }

  async saveStep(step: number, model: Trainable, state: TrainerState): Promise<string> {
    const files = {
      ...modelFiles(model.config.toJSON(), this.preprocessor, model.weights),
      ...trainerStateFiles(state, this.extraState),
    };
    const final = this.writeCheckpoint(stepDirName(step), files);
    this.removeStepCheckpoints(step - 1);
    return final;
  }

  /** All files into a temporary folder, then one rename: the checkpoint appears whole or not at all. */
  private writeCheckpoint(name: string, files: Record<string, Uint8Array>): string {
    const final = join(this.outDir, name);
    const tmp = join(this.outDir, `.${name}.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    for (const [file, bytes] of Object.entries(files)) writeFileSync(join(tmp, file), bytes);
    if (existsSync(final)) {
      // (a resume from an older checkpoint than the newest) moved aside first: a kill leaves the old one or the new one
      const old = join(this.outDir, `.${name}.tmp-${process.pid}-old`);
      renameSync(final, old);
      renameSync(tmp, final);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, final);
    }
    return final;
  }

  /** Step checkpoints at or before `step`: a newer checkpoint supersedes them for --resume. */
  private removeStepCheckpoints(upTo: number): void {
    for (const c of listCheckpoints(this.outDir)) {
      if (c.kind !== 'step' || c.n > upTo) continue;
      const doomed = join(this.outDir, `.${c.name}.tmp-${process.pid}-old`);
      renameSync(join(this.outDir, c.name), doomed);
      rmSync(doomed, { recursive: true, force: true });
    }
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

/** The complete checkpoint folders (checkpoint-epoch-N, checkpoint-step-S with trainer_state.json) under outDir. */
function listCheckpoints(outDir: string): { name: string; kind: 'epoch' | 'step'; n: number }[] {
  return readdirSync(outDir)
    .map((name) => ({ name, m: CHECKPOINT_DIR.exec(name) }))
    .filter((c) => c.m !== null && existsSync(join(outDir, c.name, TRAINER_STATE_FILE)))
    .map((c) => ({ name: c.name, kind: c.m![1] as 'epoch' | 'step', n: Number(c.m![2]) }));
}

/**
 * The newest complete checkpoint under outDir (or the folder itself when it is one): the most optimiser
 * steps taken (trainer_state.json's global_step); on a tie the epoch checkpoint, which also has the epoch's log.
 */
export function latestCheckpoint(dirOrOut: string): string | undefined {
  if (existsSync(join(dirOrOut, TRAINER_STATE_FILE))) return dirOrOut;
  if (!existsSync(dirOrOut)) return undefined;
  let best: { dir: string; step: number; epoch: boolean } | undefined;
  for (const c of listCheckpoints(dirOrOut)) {
    const dir = join(dirOrOut, c.name);
    const step = c.kind === 'step' ? c.n : globalStep(dir);
    const epoch = c.kind === 'epoch';
    if (!best || step > best.step || (step === best.step && epoch && !best.epoch)) best = { dir, step, epoch };
  }
  return best?.dir;
}

function globalStep(dir: string): number {
  const where = join(dir, TRAINER_STATE_FILE);
  const step = (parseJson(readFileSync(where), where) as { global_step?: unknown }).global_step;
  if (typeof step !== 'number') throw new Error(`${where}: no global_step`);
  return step;
}

/**
 * Removes what a killed run left half-done in outDir: checkpoint folders being written or replaced
 * (.checkpoint-….tmp-PID…) and files being written (writeFileAtomic's .NAME.PID.RANDOM.tmp), when the
 * process PID is gone. None of them is ever read: a checkpoint only counts once renamed into place.
 */
function removeStaleTemporaries(outDir: string): void {
  for (const name of readdirSync(outDir)) {
    const m = /^\.checkpoint-.+\.(?:tmp|deleting)-(\d+)(?:-old)?$/.exec(name) ?? /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name);
    if (m && !processAlive(Number(m[1]))) rmSync(join(outDir, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readTrainerState(dir: string): ReturnType<typeof parseTrainerState> {
  return parseTrainerState(readFileSync(join(dir, TRAINER_STATE_FILE)), readFileSync(join(dir, OPTIMIZER_FILE)), dir);
}
