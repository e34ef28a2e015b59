/**
 * Which epoch checkpoints to keep, as Hugging Face Trainer's `save_total_limit` with a best model:
 * the newest checkpoints up to the limit, the best one always among them (it takes the place of the
 * oldest of the newest); with a limit of 1 and a best that is not the newest, both are kept (two).
 * Browser-safe: the folder store deletes what this leaves out.
 */
import type { EpochLog } from './trainer.js';

/** The epoch with the lowest validation loss (Trainer's default `metric_for_best_model`); the earlier on a tie. */
export function bestEpoch(history: readonly EpochLog[]): number | undefined {
  let best: EpochLog | undefined;
  for (const h of history) {
    if (h.validation && Number.isFinite(h.validation.loss) && (!best || h.validation.loss < best.validation!.loss)) best = h;
  }
  return best?.epoch;
}

export interface RetentionPolicy {
  /** At most this many checkpoints (0: keep all). */
  limit: number;
  /** Never delete this epoch (the best so far). */
  best?: number;
  /** Also keep the newest this many (the epochs `--average-last` will average). */
  keepNewest?: number;
}

/** The epochs of `saved` to keep. */
export function epochsToKeep(saved: readonly number[], policy: RetentionPolicy): Set<number> {
  const newestFirst = [...saved].sort((a, b) => b - a);
  if (policy.limit <= 0) return new Set(saved);
  const keep = new Set<number>(newestFirst.slice(0, 1));
  if (policy.best !== undefined && saved.includes(policy.best)) keep.add(policy.best);
  for (const e of newestFirst) {
    if (keep.size >= policy.limit) break;
    keep.add(e);
  }
  for (const e of newestFirst.slice(0, policy.keepNewest ?? 0)) keep.add(e);
  return keep;
}
