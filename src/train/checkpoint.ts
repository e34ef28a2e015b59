/**
 * The files of a checkpoint, as bytes (browser-safe): Hugging Face's layout — config.json (with
 * id2label / label2id), preprocessor_config.json (the dataset's mean / std), model.safetensors —
 * plus, for --resume, optimizer.safetensors (Adam moments) and trainer_state.json (epoch, step,
 * RNG state, history and, for a checkpoint inside an epoch, the position in it).
 */
import type { Float32Tensor } from '../tensor.js';
import { formatSafetensors, parseSafetensors } from '../io/safetensors.js';
import { parseJson } from '../io/files.js';
import type { TrainerState, EpochLog, EpochPosition } from './trainer.js';
import type { RngState } from '../rng.js';

export const TRAINER_STATE_FILE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';

/** A model's files in HF's layout; preprocessor_config.json only when there is a feature extractor config. */
export function modelFiles(
  config: Record<string, unknown>,
  preprocessor: Record<string, unknown> | undefined,
  weights: Map<string, Float32Tensor>,
): Record<string, Uint8Array> {
  const enc = new TextEncoder();
  return {
    'config.json': enc.encode(JSON.stringify(config, null, 2) + '\n'),
    ...(preprocessor ? { 'preprocessor_config.json': enc.encode(JSON.stringify(preprocessor, null, 2) + '\n') } : {}),
    'model.safetensors': formatSafetensors(weights, { format: 'pt' }),
  };
}

export function trainerStateFiles(state: TrainerState, extra: Record<string, unknown> = {}): Record<string, Uint8Array> {
  const moments = new Map<string, Float32Tensor>();
  for (const [k, m] of state.adam.expAvg) moments.set(`exp_avg.${k}`, { dtype: 'float32', dims: [m.length], data: m });
  for (const [k, v] of state.adam.expAvgSq) moments.set(`exp_avg_sq.${k}`, { dtype: 'float32', dims: [v.length], data: v });
  const json: Record<string, unknown> = { ...extra, epoch: state.epoch, global_step: state.step, adam_step: state.adam.step, rng_state: state.rng, log_history: state.history };
  if (state.position) {
    const p = state.position;
    // JSON keeps every double exactly (shortest round-trip form), so the running loss sum resumes bit for bit
    json.epoch_position = { batch: p.batch, epoch_rng_state: p.epochRng, loss_sum: p.lossSum, loss_count: p.lossCount };
  }
  return {
    [OPTIMIZER_FILE]: formatSafetensors(moments),
    [TRAINER_STATE_FILE]: new TextEncoder().encode(JSON.stringify(json, null, 2) + '\n'),
  };
}

export function parseTrainerState(stateJson: Uint8Array, optimizer: Uint8Array, source: string): TrainerState & { extra: Record<string, unknown> } {
  const j = parseJson(stateJson, `${source}/${TRAINER_STATE_FILE}`) as Record<string, unknown>;
  const rng = j.rng_state;
  if (typeof j.epoch !== 'number' || typeof j.global_step !== 'number' || typeof j.adam_step !== 'number' || !Array.isArray(rng) || rng.length !== 4) {
    throw new Error(`${source}/${TRAINER_STATE_FILE}: not a trainer state (needs epoch, global_step, adam_step, rng_state)`);
  }
  const st = parseSafetensors(optimizer, `${source}/${OPTIMIZER_FILE}`);
  const expAvg = new Map<string, Float32Array>();
  const expAvgSq = new Map<string, Float32Array>();
  for (const [k, t] of st.tensors) {
    if (t.dtype !== 'float32') throw new Error(`${source}/${OPTIMIZER_FILE}: ${k} is ${t.dtype}, expected float32`);
    const copy = Float32Array.from(t.data as Float32Array);
    if (k.startsWith('exp_avg_sq.')) expAvgSq.set(k.slice('exp_avg_sq.'.length), copy);
    else if (k.startsWith('exp_avg.')) expAvg.set(k.slice('exp_avg.'.length), copy);
  }
  const { epoch, global_step, adam_step, rng_state, log_history, epoch_position, ...extra } = j;
  void rng_state;
  const position = epoch_position === undefined ? undefined : parsePosition(epoch_position, `${source}/${TRAINER_STATE_FILE}`);
  return {
    epoch: epoch as number,
    step: global_step as number,
    rng: rng as RngState,
    adam: { step: adam_step as number, expAvg, expAvgSq },
    history: (Array.isArray(log_history) ? log_history : []) as EpochLog[],
    ...(position ? { position } : {}),
    extra,
  };
}

function isRngState(v: unknown): v is RngState {
  return Array.isArray(v) && v.length === 4 && v.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32);
}

function parsePosition(v: unknown, where: string): EpochPosition {
  const p = v as Record<string, unknown> | null;
  if (
    typeof p !== 'object' || p === null ||
    !(Number.isInteger(p.batch) && (p.batch as number) > 0) ||
    !isRngState(p.epoch_rng_state) ||
    typeof p.loss_sum !== 'number' ||
    typeof p.loss_count !== 'number'
  ) {
    throw new Error(`${where}: epoch_position must be { batch (a positive integer), epoch_rng_state (4 uint32), loss_sum, loss_count }, got ${JSON.stringify(v)}`);
  }
  return { batch: p.batch as number, epochRng: p.epoch_rng_state, lossSum: p.loss_sum, lossCount: p.loss_count };
}
