/**
 * The platform's way to read a local audio file for the pipeline. Browsers have no file paths; the
 * Node entry registers an fs reader. Kept apart from the pipeline so registering it loads nothing else.
 */
export type AudioFileReader = (path: string) => Promise<Uint8Array>;

let fileReader: AudioFileReader | undefined;

export function registerAudioFileReader(reader: AudioFileReader): void {
  fileReader = reader;
}

export function getAudioFileReader(): AudioFileReader | undefined {
  return fileReader;
}
