/**
 * The streaming WindowReader for `tag`: a file on disk in WAV, FLAC, MP3 or Ogg Vorbis is read a stretch
 * at a time (node/audio-stream.ts), so tagging a 10-hour recording holds a few windows, not the
 * recording; its windows' features are those of wholeFileWindows (the same samples, bit for bit). Items
 * that are not files on disk (dataset rows) and formats without a streaming decoder go to wholeFileWindows.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { monoChunks } from '../audio/stream.js';
import { openAudioStream } from '../node/audio-stream.js';
import { WindowStream, type StreamedWindow } from '../pipeline/stream-windows.js';
import { FRAME_LENGTH_MS } from '../pipeline/windows.js';
import { wholeFileWindows, type WindowFeatures, type WindowReader } from './tag-file.js';

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export const streamingFileWindows: WindowReader = async (item, ctx) => {
  if (item.localFile === undefined) return wholeFileWindows(item, ctx);
  const stream = await openAudioStream(item.localFile);
  if (!stream || stream.route === 'whole') return wholeFileWindows(item, ctx);
  const fe = ctx.extractor.config;
  const rate = fe.sampling_rate;
  const windows = new WindowStream(rate, fe.max_length, ctx);
  let fileRate = NaN;
  let sha256 = '';
  const features = (w: StreamedWindow): WindowFeatures => ({
    start: w.start,
    end: w.end,
    features: ctx.extractor.extract(w.samples, { samplingRate: rate, source: item.path }).inputValues.data,
  });
  const wanted = (w: StreamedWindow) => ctx.aggregate !== 'first' || w.index === 0;
  async function* read(): AsyncGenerator<WindowFeatures> {
    for await (const chunk of monoChunks(stream!, rate, (r) => (fileRate = r))) {
      for (const w of windows.push(chunk)) if (wanted(w)) yield features(w);
    }
    const last = windows.end();
    if (windows.length === 0) throw new Error(`${item.path}: no audio samples decoded from this file (empty, truncated or corrupt)`);
    const minSamples = Math.trunc((rate * FRAME_LENGTH_MS) / 1000);
    if (!(windows.length >= minSamples)) {
      throw new Error(`${item.path}: ${windows.length} samples is shorter than one ${FRAME_LENGTH_MS} ms analysis frame`);
    }
    for (const w of last) if (wanted(w)) yield features(w);
    sha256 = await sha256File(item.localFile!);
  }
  return {
    windows: read(),
    info: () => ({ sha256, duration_s: windows.length / rate, sampling_rate: fileRate }),
  };
};
