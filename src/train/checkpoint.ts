/**
 * The files of a checkpoint, as bytes (browser-safe): Hugging Face's layout — config.json (with
 * id2label / label2id), preprocessor_config.json (the dataset's mean / std), model.safetensors —
 * plus, for --resume, optimizer.safetensors (Adam moments) and trainer_state.json (epoch, step,
 * RNG state, history).
 */
import type { Float32Tensor } from '../tensor.js';
import { formatSafetensors, parseSafetensors } from '../io/safetensors.js';
import type { TrainerState, EpochLog } from './trainer.js';
import type { RngState } from '../rng.js';

export const TRAINER_STATE_FILE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';

export function modelFiles(
  config: Record<string, unknown>,
  preprocessor: Record<string, unknown>,
  weights: Map<string, Float32Tensor>,
): Record<string, Uint8Array> {
  const enc = new TextEncoder();
  return {
    'config.json': enc.encode(JSON.stringify(config, null, 2) + '\n'),
    'preprocessor_config.json': enc.encode(JSON.stringify(preprocessor, null, 2) + '\n'),
    'model.safetensors': formatSafetensors(weights, { format: 'pt' }),
  };
}

export function trainerStateFiles(state: TrainerState, extra: Record<string, unknown> = {}): Record<string, Uint8Array> {
  const moments = new Map<string, Float32Tensor>();
  for (const [k, m] of state.adam.expAvg) moments.set(`exp_avg.${k}`, { dtype: 'float32', dims: [m.length], data: m });
  for (const [k, v] of state.adam.expAvgSq) moments.set(`exp_avg_sq.${k}`, { dtype: 'float32', dims: [v.length], data: v });
  const json = { ...extra, epoch: state.epoch, global_step: state.step, adam_step: state.adam.step, rng_state: state.rng, log_history: state.history };
  return {
    [OPTIMIZER_FILE]: formatSafetensors(moments),
    [TRAINER_STATE_FILE]: new TextEncoder().encode(JSON.stringify(json, null, 2) + '\n'),
  };
}

export function parseTrainerState(stateJson: Uint8Array, optimizer: Uint8Array, source: string): TrainerState & { extra: Record<string, unknown> } {
  const j = JSON.parse(new TextDecoder().decode(stateJson)) as Record<string, unknown>;
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
  const { epoch, global_step, adam_step, rng_state, log_history, ...extra } = j;
  void rng_state;
  return {
    epoch: epoch as number,
    step: global_step as number,
    rng: rng as RngState,
    adam: { step: adam_step as number, expAvg, expAvgSq },
    history: (Array.isArray(log_history) ? log_history : []) as EpochLog[],
    extra,
  };
}
