/**
 * AudioWorklet processor for live capture: copies the microphone's first channel (or the mean of its
 * channels) out in blocks of BLOCK frames, with the context time of the block's last sample, so the page
 * can tell how long ago the newest sample of a window was heard.
 */
declare const sampleRate: number;
declare const currentTime: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
declare function registerProcessor(name: string, ctor: new () => AudioWorkletProcessor): void;

/** 2048 frames = 43 ms at 48 kHz: few enough messages, short enough not to add much latency. */
const BLOCK = 2048;

class CaptureProcessor extends AudioWorkletProcessor {
  private block = new Float32Array(BLOCK);
  private filled = 0;

  process(inputs: Float32Array[][]): boolean {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const n = channels[0]!.length;
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (const ch of channels) sum += ch[i]!;
      this.block[this.filled++] = sum / channels.length;
      if (this.filled === BLOCK) {
        // time of the last sample in this block, in the context's clock
        const endTime = currentTime + (i + 1) / sampleRate;
        this.port.postMessage({ samples: this.block, endTime, sampleRate }, [this.block.buffer]);
        this.block = new Float32Array(BLOCK);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor('ast-capture', CaptureProcessor);
