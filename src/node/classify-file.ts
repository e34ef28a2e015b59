/**
 * One file, classified in bounded memory: what `ast-audio classify` does per file, as a function for
 * callers that take files one at a time (the corpus tagger). WAV and FLAC are read as a stream
 * (audio-stream.ts); other formats are decoded whole up to MAX_WHOLE_FILE_BYTES.
 */
import type { AudioClassificationPipeline, ClassifiedAudio, ClassifyOptions } from '../pipeline/audio-classification.js';
import { openAudioStream, type AudioStreamOptions } from './audio-stream.js';

export type ClassifyFileOptions = ClassifyOptions & AudioStreamOptions;

/**
 * Classifies the audio file at `path` with `classify`: `labels` (clip scores, top-k), `windows` (each
 * window's start, end and top-k), `duration` (seconds at the model's rate), `samplingRate` (the file's
 * own rate) and, with `embeddings: true`, `embedding` (mean pooler output over the windows). Never
 * throws for a bad file: the result carries `error` (naming the file), as `classify.run` does.
 */
export async function classifyFileStreaming(
  classify: AudioClassificationPipeline,
  path: string,
  options: ClassifyFileOptions = {},
): Promise<ClassifiedAudio> {
  const { maxWholeFileBytes, ...callOptions } = options;
  let input;
  try {
    // A pipe or device (undefined) is read whole by the pipeline's file reader.
    input = (await openAudioStream(path, { maxWholeFileBytes })) ?? path;
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    return { index: 0, source: path, duration: NaN, error: error.message.includes(path) ? error : new Error(`${path}: ${error.message}`, { cause: error }) };
  }
  let result: ClassifiedAudio | undefined;
  for await (const item of classify.run([input], callOptions)) result ??= item;
  return result!;
}
