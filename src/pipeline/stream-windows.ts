/**
 * planWindows over a stream: samples arrive in chunks of any size, and each window is handed out with
 * its samples as soon as it is known, holding only about one window (plus a hop) of samples, however
 * long the recording. The windows are exactly planWindows' for the final length (same sample ranges):
 *
 *  - with F frames in all, windows k = 0, 1, … start every hop while k * hop < F - window (k is not
 *    the last window); that is settled once more than window + k * hop frames have arrived, so those
 *    windows go out while the stream runs;
 *  - at the end, the last window is the one that ends at the end of the audio (frames F - window on),
 *    or, when F <= window, the single window over every sample (Hugging Face's padded clip).
 *
 * The samples the last window may need are the last `window` frames seen so far, so that much (plus the
 * samples of a window not yet out) is all that is kept.
 */
import { SampleRun } from '../audio/sample-run.js';
import { frameCount, frameSamples, planWindows, type AudioWindow, type WindowOptions } from './windows.js';

/** A window and its samples (a copy: the stream's buffer moves on). */
export interface StreamedWindow extends AudioWindow {
  samples: Float32Array;
}

export class WindowStream {
  readonly windowFrames: number;
  readonly hopFrames: number;
  private readonly shift: number;
  private readonly span: number;
  /** The samples the next window and the last window's candidates still read. */
  private readonly held = new SampleRun();
  /** Samples pushed so far; the next regular window's index. */
  private received = 0;
  private nextIndex = 0;

  constructor(
    readonly samplingRate: number,
    readonly maxLength: number,
    options: WindowOptions = {},
  ) {
    // planWindows checks the options and gives the window and hop in frames.
    const plan = planWindows(0, samplingRate, maxLength, options);
    this.windowFrames = plan.windowFrames;
    this.hopFrames = plan.hopFrames;
    const { shift, length } = frameSamples(samplingRate);
    this.shift = shift;
    this.span = (this.windowFrames - 1) * this.shift + length;
  }

  /** Samples pushed so far. */
  get length(): number {
    return this.received;
  }

  /** The windows that `samples` (the next stretch of the waveform) settle. */
  push(samples: Float32Array): StreamedWindow[] {
    this.held.append(samples);
    this.received += samples.length;
    const out: StreamedWindow[] = [];
    const frames = frameCount(this.received, this.samplingRate);
    while (this.nextIndex * this.hopFrames < frames - this.windowFrames) {
      const start = this.nextIndex * this.hopFrames * this.shift;
      out.push(this.cut(this.nextIndex++, start, start + this.span));
    }
    // Kept: the next regular window's samples and the last `window` frames (the last window's candidates).
    const lastStart = Math.max(0, (frames - this.windowFrames) * this.shift);
    this.held.discardBefore(Math.min(this.nextIndex * this.hopFrames * this.shift, lastStart));
    return out;
  }

  /**
   * The last window, once the stream is over (none when no whole frame arrived: the caller reports
   * audio shorter than a frame). Its index says how many windows there were in all, less one.
   */
  end(): StreamedWindow[] {
    const frames = frameCount(this.received, this.samplingRate);
    if (frames === 0) return [];
    const out =
      frames <= this.windowFrames
        ? this.cut(0, 0, this.received)
        : this.cut(this.nextIndex, (frames - this.windowFrames) * this.shift, this.received);
    this.held.release();
    return [out];
  }

  private cut(index: number, startSample: number, endSample: number): StreamedWindow {
    const from = startSample - this.held.start;
    if (from < 0) throw new Error(`WindowStream: samples from ${startSample} were already released`); // a bug, not bad input
    const samples = this.held.data.slice(from, endSample - this.held.start);
    return { index, startSample, endSample, start: startSample / this.samplingRate, end: endSample / this.samplingRate, samples };
  }
}
