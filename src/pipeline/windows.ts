/**
 * Long audio as windows of the model's `max_length` frames. AST sees a fixed number of frames
 * (1024 = 10.24 s for the AudioSet checkpoints); Hugging Face truncates longer input. Here a long
 * recording is cut into windows that each get exactly the preprocessing a short clip gets
 * (ASTFeatureExtractor on that stretch of samples), and the per-window scores are combined.
 *
 * No window is padding: a clip that fits one window is that one window, padded to `max_length` as
 * Hugging Face does; a longer clip has windows every `hop` and its last window ends at the end of the
 * audio, overlapping the one before it, so every window is full. (Touching windows with a padded last
 * one would let 50 ms of trailing silence count as much as the second before it in the mean: the
 * speech-commands "yes" went from 0.9996 to 0.4998 that way.)
 *
 * Frames follow ASTFeatureExtractor's Kaldi fbank (torchaudio defaults, snip_edges): one frame every
 * 10 ms, each 25 ms long, so a window of W frames spans (W - 1) * 10 ms + 25 ms of audio and window k
 * starts at sample k * hop * 10 ms. A frame depends only on its own samples, so a window's features are
 * the same frames the whole recording would give.
 */

/** torchaudio.compliance.kaldi.fbank's default frame_shift, which ASTFeatureExtractor keeps. */
export const FRAME_SHIFT_MS = 10;
/** torchaudio.compliance.kaldi.fbank's default frame_length, which ASTFeatureExtractor keeps. */
export const FRAME_LENGTH_MS = 25;

/** How per-window scores become clip scores: the mean or the max over windows of each label's score,
 *  or `first`: only the first window, which is what Hugging Face's pipeline does (it truncates). */
export type Aggregation = 'mean' | 'max' | 'first';

export interface WindowOptions {
  /** Window length in seconds; default and maximum: the model's `max_length` frames (10.24 s for 1024). */
  window?: number;
  /** Step between window starts in seconds; default: the window length (windows touch, no overlap). */
  hop?: number;
}

export interface AudioWindow {
  index: number;
  /** Sample range [startSample, endSample) of the waveform this window reads. */
  startSample: number;
  endSample: number;
  /** The same range in seconds. */
  start: number;
  end: number;
}

export interface WindowPlan {
  windowFrames: number;
  hopFrames: number;
  windows: AudioWindow[];
}

/** Kaldi's frame count with snip_edges: frames that fit entirely inside the signal. */
export function frameCount(numSamples: number, samplingRate: number): number {
  const { shift, length } = frameSamples(samplingRate);
  return numSamples < length ? 0 : 1 + Math.floor((numSamples - length) / shift);
}

/** Kaldi's frame shift and length in samples at this rate. */
export function frameSamples(samplingRate: number): { shift: number; length: number } {
  // Kaldi truncates: window_shift = int(sample_frequency * frame_shift * 0.001).
  return {
    shift: Math.trunc((samplingRate * FRAME_SHIFT_MS) / 1000),
    length: Math.trunc((samplingRate * FRAME_LENGTH_MS) / 1000),
  };
}

/** Seconds -> whole frames; throws with the option's name when the value is unusable. */
function toFrames(seconds: number, name: string, maxFrames: number): number {
  const frames = Math.round((seconds * 1000) / FRAME_SHIFT_MS);
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || frames < 1) {
    throw new RangeError(`${name} must be at least ${FRAME_SHIFT_MS / 1000} s, got ${String(seconds)}`);
  }
  if (frames > maxFrames) {
    throw new RangeError(`${name} ${seconds} s is longer than the model's ${maxFrames} frames (${(maxFrames * FRAME_SHIFT_MS) / 1000} s)`);
  }
  return frames;
}

/**
 * The windows for a waveform of `numSamples`. A clip that fits one window gives exactly one window over
 * all its samples (the Hugging Face case). Otherwise windows of `window` frames start every `hop`, and
 * the last one starts `window` frames before the last frame, so it ends at the end of the audio: every
 * window is full, no sample is left out, and the last two may overlap more than `hop` says.
 */
export function planWindows(numSamples: number, samplingRate: number, maxLength: number, options: WindowOptions = {}): WindowPlan {
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`max_length must be a positive integer, got ${maxLength}`);
  const windowFrames = options.window === undefined ? maxLength : toFrames(options.window, 'window', maxLength);
  // A hop longer than the window is refused below with the reason, whatever the model's length.
  const hopFrames = options.hop === undefined ? windowFrames : toFrames(options.hop, 'hop', Infinity);
  if (hopFrames > windowFrames) {
    throw new RangeError(
      `hop (${options.hop} s) must not be longer than the window (${(windowFrames * FRAME_SHIFT_MS) / 1000} s): ` +
        `audio between windows would be skipped`,
    );
  }
  const { shift, length } = frameSamples(samplingRate);
  const frames = frameCount(numSamples, samplingRate);
  const count = frames <= windowFrames ? 1 : 1 + Math.ceil((frames - windowFrames) / hopFrames);
  const span = (windowFrames - 1) * shift + length;
  const windows: AudioWindow[] = [];
  for (let k = 0; k < count; k++) {
    const startFrame = count === 1 ? 0 : k === count - 1 ? frames - windowFrames : k * hopFrames;
    const startSample = startFrame * shift;
    // The last window keeps the samples after its last whole frame: they make no frame, and its end is the audio's.
    const endSample = count === 1 || k === count - 1 ? numSamples : startSample + span;
    windows.push({ index: k, startSample, endSample, start: startSample / samplingRate, end: endSample / samplingRate });
  }
  return { windowFrames, hopFrames, windows };
}

/** Combines per-window scores (each [numLabels]) into clip scores. */
export function aggregateScores(perWindow: readonly Float32Array[], how: Aggregation): Float32Array {
  const first = perWindow[0];
  if (!first) throw new Error('no window scores to aggregate');
  if (how === 'first' || perWindow.length === 1) return Float32Array.from(first);
  const out = new Float32Array(first.length);
  if (how === 'max') {
    out.fill(-Infinity);
    for (const s of perWindow) for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i]!, s[i]!);
    return out;
  }
  // Sum in float64 so the mean of many windows does not drift.
  const sum = new Float64Array(first.length);
  for (const s of perWindow) for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + s[i]!;
  for (let i = 0; i < out.length; i++) out[i] = sum[i]! / perWindow.length;
  return out;
}
