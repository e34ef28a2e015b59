/**
 * Learning-rate schedules as Hugging Face Trainer's (transformers.optimization): the multiplier for
 * optimiser step `step` (0-based: the first update uses step 0, so with warm-up it uses lr 0, as HF).
 */
export type ScheduleKind = 'linear' | 'cosine' | 'constant' | 'constant_with_warmup';

export interface ScheduleOptions {
  kind: ScheduleKind;
  warmupSteps: number;
  totalSteps: number;
  /** Cosine cycles (HF default 0.5: one half-cosine down to 0). */
  numCycles?: number;
}

export function lrMultiplier(step: number, o: ScheduleOptions): number {
  const { kind, warmupSteps, totalSteps } = o;
  if (kind === 'constant') return 1;
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  if (kind === 'constant_with_warmup') return 1;
  const progressDen = Math.max(1, totalSteps - warmupSteps);
  if (kind === 'linear') return Math.max(0, (totalSteps - step) / progressDen);
  const progress = (step - warmupSteps) / progressDen;
  const cycles = o.numCycles ?? 0.5;
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
}

/** HF TrainingArguments.get_warmup_steps: explicit steps win, else ceil(ratio * total). */
export function warmupStepsFor(totalSteps: number, warmupSteps?: number, warmupRatio?: number): number {
  if (warmupSteps !== undefined && warmupSteps > 0) return warmupSteps;
  return Math.ceil(totalSteps * (warmupRatio ?? 0));
}
