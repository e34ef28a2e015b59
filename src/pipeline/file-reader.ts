/**
 * The platform's way to read a local audio file for the pipeline. Browsers have no file paths; the
 * Node entry registers an fs reader, and a streamer that reads long files a stretch at a time.
 * Kept apart from the pipeline so registering them loads nothing else.
 */
import type { AudioStream } from '../audio/stream.js';

export type AudioFileReader = (path: string) => Promise<Uint8Array>;

/**
 * Opens a local file as a stream of decoded chunks; undefined when this path is better read whole
 * (a pipe, standard input), which then goes to the AudioFileReader.
 */
export type AudioFileStreamer = (path: string) => Promise<AudioStream | undefined>;

let fileReader: AudioFileReader | undefined;
let fileStreamer: AudioFileStreamer | undefined;

export function registerAudioFileReader(reader: AudioFileReader): void {
  fileReader = reader;
}

export function getAudioFileReader(): AudioFileReader | undefined {
  return fileReader;
}

export function registerAudioFileStreamer(streamer: AudioFileStreamer | undefined): void {
  fileStreamer = streamer;
}

export function getAudioFileStreamer(): AudioFileStreamer | undefined {
  return fileStreamer;
}
