/**
 * Labelled clips as a lazy `ExampleSource` for `train` and `eval`: the clip list and each clip's class ids
 * are held, the audio is decoded, resampled and turned into fbank features when the trainer asks for a clip
 * (a batch at a time, the next batch while one runs). Nothing else is kept, so peak memory does not grow
 * with the dataset: a set larger than memory trains. A clip is decoded again each epoch; measured against a
 * training step that is a few per cent of the step's time for an AST-Base (README: Fine-tuning → Data).
 */
import type { ASTFeatureExtractor } from '../audio/feature-extractor.js';
import { decodeAudio } from '../audio/decode.js';
import type { LabelledClip } from '../train/dataset.js';
import type { Example, ExampleSource } from '../train/trainer.js';
import { loadAudio } from './audio.js';

/** Clip i's class ids, packed (ids[offsets[i] .. offsets[i + 1]]): millions of clips in a few MB. */
interface PackedLabelIds {
  ids: Int32Array;
  offsets: Uint32Array;
}

/**
 * Every clip's labels as ids of `labels`, checked now (before any audio is read): a label the model does
 * not have, or a single-label set with a clip of other than one label, is an error naming the clip.
 */
function packLabelIds(clips: readonly LabelledClip[], labels: readonly string[], multiLabel: boolean): PackedLabelIds {
  const index = new Map(labels.map((l, i) => [l, i]));
  const offsets = new Uint32Array(clips.length + 1);
  const ids: number[] = [];
  clips.forEach((c, i) => {
    for (const l of c.labels) {
      const id = index.get(l);
      if (id === undefined) throw new Error(`${c.path}: label "${l}" is not one of the model's labels (${labels.join(', ')})`);
      ids.push(id);
    }
    if (!multiLabel && c.labels.length !== 1) throw new Error(`${c.path}: single-label data needs exactly one label, got ${c.labels.length}`);
    offsets[i + 1] = ids.length;
  });
  return { ids: Int32Array.from(ids), offsets };
}

/** A clip's waveform at the extractor's rate: a file read from disk, or a Parquet row's bytes. */
async function clipWaveform(clip: LabelledClip, samplingRate: number): Promise<Float32Array> {
  if (clip.read) return (await decodeAudio(await clip.read(), { samplingRate, source: clip.path })).waveform;
  return loadAudio(clip.path, { samplingRate });
}

/**
 * The clips as examples made on demand: raw (un-normalised, padded) fbank from `fe`, a target row over
 * `labels`, and the waveform too when `keepWaveforms` (mixup mixes waveforms, then computes features again).
 */
export function clipExampleSource(
  clips: readonly LabelledClip[],
  labels: readonly string[],
  multiLabel: boolean,
  fe: ASTFeatureExtractor,
  keepWaveforms: boolean,
): ExampleSource & { clips: readonly LabelledClip[] } {
  const packed = packLabelIds(clips, labels, multiLabel);
  const labelIds = (i: number): number[] => Array.from(packed.ids.subarray(packed.offsets[i]!, packed.offsets[i + 1]!));
  const rate = fe.config.sampling_rate;
  return {
    clips,
    length: clips.length,
    labelIds,
    async example(i: number): Promise<Example> {
      const clip = clips[i];
      if (!clip) throw new Error(`clip ${i} of ${clips.length} asked for`);
      const waveform = await clipWaveform(clip, rate);
      const features = fe.fbank(waveform, rate, { source: clip.path }).data; // [max_length, bins], raw log-mel
      const ids = labelIds(i);
      const target = new Float32Array(labels.length);
      for (const id of ids) target[id] = 1;
      return { features, target, labelIds: ids, waveform: keepWaveforms ? waveform : undefined };
    },
  };
}
