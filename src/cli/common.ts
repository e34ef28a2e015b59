/**
 * What every sub-command shares: `-` for standard input, plurals, the audio-seconds progress bar, and
 * the embedded default model.
 */
import cliProgress from 'cli-progress';
import { decodeAudio, type DecodedAudio } from '../audio/decode.js';
import { readAudioFile } from '../node/audio.js';
import { DEFAULT_MODEL_DIR, DEFAULT_MODEL_URL } from '../pipeline/audio-classification.js';

/** The argument that means "read the audio from standard input", as in sox, ffmpeg and most Unix tools. */
export const STDIN = '-';

/** `-`, or /dev/stdin named outright (which cannot be opened when stdin is a socket, as under some process managers). */
export function isStdin(path: string): boolean {
  return path === STDIN || path === '/dev/stdin';
}

let stdinBytes: Promise<Uint8Array> | undefined;

/** All of standard input, read once (a second `-` gets the same bytes). */
export function readStdin(): Promise<Uint8Array> {
  stdinBytes ??= (async () => {
    if (process.stdin.isTTY) throw new Error('-: standard input is a terminal; pipe audio in (ast-audio classify - < clip.wav)');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const bytes = new Uint8Array(Buffer.concat(chunks));
    if (bytes.length === 0) throw new Error('-: standard input is empty');
    return bytes;
  })();
  return stdinBytes;
}

/** `readAudioFile`, with `-` read from standard input (any format the decoder knows, found by its bytes). */
export async function readCliAudio(path: string, options: { samplingRate?: number } = {}): Promise<DecodedAudio> {
  if (!isStdin(path)) return readAudioFile(path, options);
  return decodeAudio(await readStdin(), { samplingRate: options.samplingRate, source: path });
}

/** "1 label", "12 labels". */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : pluralForm}`;
}

/** `--model` when given, else the embedded speech-commands model (as the pipeline's default). */
export function modelOrDefault(model: string | undefined): { source: string; name: string } {
  return model === undefined ? { source: DEFAULT_MODEL_URL, name: DEFAULT_MODEL_DIR } : { source: model, name: model };
}

/** The shared `-m, --model` help text, for commands where the model is optional. */
export const MODEL_HELP = `Hugging Face Hub id or local checkpoint folder (default: the embedded ${DEFAULT_MODEL_DIR})`;

/**
 * `--progress` / `--no-progress` / neither: a bar on a terminal, none when stderr is a file or pipe unless
 * `--progress` asks for it (then it prints a line every few seconds instead of redrawing).
 */
export function progressWanted(flag: boolean | undefined, stderr: { isTTY?: boolean }): boolean {
  return flag ?? stderr.isTTY === true;
}

/** On a terminal without --progress, a run of fewer files than this shows a bar only once it has taken this long. */
const QUIET_FILES = 8;
const QUIET_MS = 1000;

/**
 * Progress in seconds of audio: done / total, with an ETA. Files are decoded one after another, so the
 * total is known only once every file is read; until then the files not yet read count as the mean of
 * those read, and the total carries a "~".
 */
export class AudioProgress {
  private readonly bar: cliProgress.SingleBar;
  private readonly durations: number[];
  private readonly done: number[];
  private knownSeconds = 0;
  private knownFiles = 0;
  private doneSeconds = 0;
  private filesDone = 0;
  private started = false;
  private readonly showFrom: number;

  /** `forced`: --progress was given (show at once); otherwise a quick run of a few files stays quiet. */
  constructor(
    label: string,
    files: number,
    stream: NodeJS.WritableStream & { isTTY?: boolean },
    forced = false,
  ) {
    this.showFrom = forced || files >= QUIET_FILES ? 0 : Date.now() + QUIET_MS;
    this.durations = new Array<number>(files).fill(NaN);
    this.done = new Array<number>(files).fill(0);
    this.bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${label} [{bar}] {files} | {audio} s audio | {percentage}% | ETA {eta_formatted}`,
        hideCursor: stream.isTTY === true,
        noTTYOutput: stream.isTTY !== true,
        notTTYSchedule: 2000,
        etaBuffer: 50,
        etaAsynchronousUpdate: true,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  /** File `index` was read: `seconds` of audio (NaN when it could not be read). */
  decoded(index: number, seconds: number): void {
    if (!Number.isNaN(this.durations[index]!)) return;
    const d = Number.isFinite(seconds) ? seconds : 0;
    this.durations[index] = d;
    this.knownSeconds += d;
    this.knownFiles++;
    this.doneSeconds += d * this.done[index]!;
    this.refresh();
  }

  /** File `index` is `fraction` (0..1) done. */
  advance(index: number, fraction: number): void {
    const f = Math.min(1, Math.max(0, fraction));
    const before = this.done[index]!;
    if (f === before) return;
    this.done[index] = f;
    const d = this.durations[index]!;
    if (!Number.isNaN(d)) this.doneSeconds += d * (f - before);
    if (f === 1) this.filesDone++;
    else if (before === 1) this.filesDone--;
    this.refresh();
  }

  stop(): void {
    if (this.started) this.bar.stop();
    this.started = false;
  }

  private refresh(): void {
    // Sums kept as files go, so a long file's thousand windows do not each walk every file.
    const unknown = this.durations.length - this.knownFiles;
    const mean = this.knownFiles > 0 ? this.knownSeconds / this.knownFiles : 0;
    const total = this.knownSeconds + unknown * mean;
    const doneSeconds = Math.max(0, this.doneSeconds);
    const filesDone = this.filesDone;
    const payload = {
      audio: `${doneSeconds.toFixed(1)}/${unknown > 0 ? '~' : ''}${total.toFixed(1)}`,
      files: `${filesDone}/${plural(this.durations.length, 'file')}`,
    };
    // The bar counts milliseconds of audio so that cli-progress's ETA is in audio time.
    const value = Math.round(doneSeconds * 1000);
    const totalMs = Math.max(1, Math.round(total * 1000));
    if (!this.started) {
      if (Date.now() < this.showFrom) return;
      this.bar.start(totalMs, value, payload);
      this.started = true;
    } else {
      this.bar.setTotal(totalMs);
      this.bar.update(value, payload);
    }
  }
}
