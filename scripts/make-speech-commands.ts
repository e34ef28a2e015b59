/**
 * Makes a synthetic spoken-command data set (Speech Commands style) with Debian's espeak-ng and
 * sox: 1 s, 16 kHz, mono, 16-bit WAV clips of ten command words plus `_silence_` (background
 * noise only) and `_unknown_` (other words), split BY VOICE so that the test voices are never
 * heard in training.
 *
 *   node --import tsx scripts/make-speech-commands.ts [--out .data/speech-commands] [--seed 1]
 *
 * Needs the Debian packages `espeak-ng` and `sox` (apt-get install espeak-ng sox).
 *
 * Determinism: every clip's parameters come from its own seeded RNG (seed, split, label, index),
 * so the output does not depend on the order in which the parallel jobs finish. Noise is made
 * here (not by `sox synth`, whose generator is seeded by the clock) for the same reason.
 *
 * Output (under --out): `<split>/<label>/<file>.wav` for split = train, validation, test, a CSV
 * manifest per split (`train.csv`: path,label,word,voice,… with paths relative to --out) and
 * `recipe.json`, written last, which marks a finished set; a second run with the same recipe
 * does nothing unless --force is given.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Rng } from '../src/rng.js';

const SAMPLE_RATE = 16000;
const CLIP_SAMPLES = SAMPLE_RATE; // 1 s

const COMMANDS = ['yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go'] as const;
const SILENCE = '_silence_';
const UNKNOWN = '_unknown_';
/** Speech Commands v2's auxiliary words, the "unknown" class. */
const UNKNOWN_WORDS = [
  'bed', 'bird', 'cat', 'dog', 'happy', 'house', 'marvin', 'sheila', 'tree', 'wow',
  'zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine',
  'backward', 'forward', 'follow', 'learn', 'visual',
];
const LABELS = [...COMMANDS, SILENCE, UNKNOWN];

/** espeak-ng English voices (accents); a clip's voice is accent + variant. */
const ACCENTS = ['en', 'en-us', 'en-gb-scotland', 'en-gb-x-gbclan', 'en-gb-x-rp', 'en-gb-x-gbcwmd', 'en-029', 'en-us-nyc'];

/**
 * espeak-ng voice variants (files in espeak-ng-data/voices/!v). The speaker identity lives in
 * the variant (pitch range, formants, synthesiser), so the split is by variant: test and
 * validation variants are never used in training, with any accent.
 */
const TEST_VARIANTS = ['m3', 'f5', 'klatt4', 'robert'];
const VALIDATION_VARIANTS = ['m6', 'f3', 'klatt2'];
const TRAIN_VARIANTS = [
  'm1', 'm2', 'm4', 'm5', 'm7', 'm8', 'f1', 'f2', 'f4', 'klatt', 'klatt3', 'klatt5', 'klatt6',
  'Alex', 'Alicia', 'Andrea', 'Andy', 'Annie', 'AnxiousAndy', 'Denis', 'Diogo', 'Gene', 'Gene2',
  'Henrique', 'Hugo', 'Jacky', 'Lee', 'Marco', 'Mario', 'Michael', 'Mike', 'Nguyen', 'Storm',
  'Tweaky', 'adam', 'anika', 'announcer', 'antonio', 'aunty', 'belinda', 'benjamin', 'boris',
  'caleb', 'croak', 'david', 'ed', 'edward', 'edward2', 'grandma', 'grandpa', 'gustave', 'iven',
  'iven2', 'iven3', 'iven4', 'john', 'kaukovalta', 'linda', 'marcelo', 'max', 'michel', 'miguel',
  'norbert', 'pablo', 'paul', 'pedro', 'quincy', 'rob', 'sandro', 'shelby', 'steph', 'steph2',
  'steph3', 'travis', 'victor', 'whisper', 'whisperf', 'zac',
];

type Split = 'train' | 'validation' | 'test';
const SPLIT_VARIANTS: Record<Split, string[]> = { train: TRAIN_VARIANTS, validation: VALIDATION_VARIANTS, test: TEST_VARIANTS };

type NoiseKind = 'white' | 'pink' | 'brown' | 'hum';
const NOISE_KINDS: NoiseKind[] = ['white', 'pink', 'brown', 'hum'];

interface ClipPlan {
  split: Split;
  label: string;
  index: number;
  file: string; // relative to the output folder
  word: string | null; // null for _silence_
  voice: string | null; // accent+variant
  speed: number; // espeak-ng -s, words per minute
  pitch: number; // espeak-ng -p, 0..99
  soxEffects: string[];
  peakDb: number; // speech peak level, dBFS
  noise: NoiseKind | null;
  snrDb: number | null; // speech RMS over noise RMS; for _silence_ the noise RMS in dBFS
  floorDb: number; // a faint white-noise floor (dBFS RMS) under every clip: real inputs are never digital zero
  seed: number; // for the noise and the time offset
}

interface Options {
  out: string;
  seed: number;
  perClass: Record<Split, number>;
  jobs: number;
  force: boolean;
}

function usage(): string {
  return `Usage: node --import tsx scripts/make-speech-commands.ts [options]

Makes a synthetic spoken-command set (${LABELS.join(', ')}) with espeak-ng and sox,
split by voice: test voices (${TEST_VARIANTS.join(', ')}) and validation voices
(${VALIDATION_VARIANTS.join(', ')}) are never used in training.

Options:
  --out DIR          output folder (default .data/speech-commands)
  --seed N           seed (default 1)
  --train N          clips per class for training (default 300; twice that for _unknown_)
  --validation N     clips per class for validation (default 40)
  --test N           clips per class for the held-out test (default 80)
  --jobs N           parallel espeak-ng/sox jobs (default 2)
  --force            regenerate even when DIR holds a finished set with the same recipe
  -h, --help         this text

Needs the Debian packages espeak-ng and sox:  sudo apt-get install espeak-ng sox`;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string', default: '.data/speech-commands' },
      seed: { type: 'string', default: '1' },
      train: { type: 'string', default: '300' },
      validation: { type: 'string', default: '40' },
      test: { type: 'string', default: '80' },
      jobs: { type: 'string', default: '2' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage() + '\n');
    process.exit(0);
  }
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
  return {
    out: values.out,
    seed: int('seed', values.seed, 0),
    perClass: { train: int('train', values.train, 1), validation: int('validation', values.validation, 0), test: int('test', values.test, 0) },
    jobs: int('jobs', values.jobs, 1),
    force: values.force,
  };
}

/** Checks the external tools and returns espeak-ng's data folder. */
function checkTools(): string {
  const missing: string[] = [];
  const espeak = spawnSync('espeak-ng', ['--version'], { encoding: 'utf8' });
  if (espeak.error || espeak.status !== 0) missing.push('espeak-ng');
  const sox = spawnSync('sox', ['--version'], { encoding: 'utf8' });
  if (sox.error || sox.status !== 0) missing.push('sox');
  if (missing.length) {
    throw new Error(`${missing.join(' and ')} not found on PATH; install the Debian package(s): sudo apt-get install ${missing.join(' ')}`);
  }
  const m = /Data at:\s*(\S+)/.exec(espeak.stdout);
  if (!m) throw new Error(`cannot find espeak-ng's data folder in "espeak-ng --version" output: ${espeak.stdout.trim()}`);
  const dataDir = m[1]!;
  // espeak-ng silently falls back to the plain voice for an unknown variant, so check the files.
  const variantDir = path.join(dataDir, 'voices', '!v');
  const absent = [...TRAIN_VARIANTS, ...VALIDATION_VARIANTS, ...TEST_VARIANTS].filter((v) => !fs.existsSync(path.join(variantDir, v)));
  if (absent.length) throw new Error(`espeak-ng voice variants missing from ${variantDir}: ${absent.join(', ')}`);
  return dataDir;
}

/** FNV-1a over a string: a stable 32-bit seed per clip. */
function hashSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const uniform = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng.uniform();
const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)]!;
const fixed = (x: number, digits: number): string => x.toFixed(digits);

function planClip(split: Split, label: string, index: number, seed: number): ClipPlan {
  const rng = new Rng(hashSeed(`${seed}/${split}/${label}/${index}`));
  const file = `${split}/${label}/${label}-${String(index).padStart(4, '0')}.wav`;
  if (label === SILENCE) {
    return {
      split, label, index, file, word: null, voice: null, speed: 0, pitch: 0, soxEffects: [], peakDb: 0,
      noise: pick(rng, NOISE_KINDS),
      snrDb: uniform(rng, -70, -20), // noise RMS in dBFS: from near-silent rooms to loud hiss
      floorDb: uniform(rng, -90, -70),
      seed: rng.nextU32(),
    };
  }
  const word = label === UNKNOWN ? pick(rng, UNKNOWN_WORDS) : label;
  const voice = `${pick(rng, ACCENTS)}+${pick(rng, SPLIT_VARIANTS[split])}`;
  const speed = Math.round(uniform(rng, 110, 230));
  const pitch = Math.round(uniform(rng, 10, 90));
  // Trim espeak's leading and trailing silence so the random offset below places the word.
  const fx: string[] = ['silence', '1', '0.01', '0.3%', 'reverse', 'silence', '1', '0.01', '0.3%', 'reverse'];
  if (rng.uniform() < 0.5) fx.push('pitch', fixed(uniform(rng, -300, 300), 0));
  if (rng.uniform() < 0.4) fx.push('tempo', fixed(uniform(rng, 0.85, 1.2), 3));
  if (rng.uniform() < 0.4) fx.push('highpass', fixed(uniform(rng, 60, 400), 0));
  if (rng.uniform() < 0.4) fx.push('lowpass', fixed(uniform(rng, 2500, 7000), 0));
  if (rng.uniform() < 0.25) fx.push('reverb', fixed(uniform(rng, 10, 50), 0), '50', fixed(uniform(rng, 10, 60), 0));
  const noisy = rng.uniform() < 0.85;
  return {
    split, label, index, file, word, voice, speed, pitch, soxEffects: fx,
    peakDb: uniform(rng, -24, -1),
    noise: noisy ? pick(rng, NOISE_KINDS) : null,
    snrDb: noisy ? uniform(rng, 5, 40) : null,
    floorDb: uniform(rng, -90, -70),
    seed: rng.nextU32(),
  };
}

/** espeak-ng | sox → float32 samples at 16 kHz. */
function synthesise(plan: ClipPlan): Promise<Float32Array> {
  return new Promise((resolve, reject) => {
    const espeak = spawn('espeak-ng', ['--stdout', '-v', plan.voice!, '-s', String(plan.speed), '-p', String(plan.pitch), plan.word!], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const sox = spawn('sox', ['-t', 'wav', '-', '-t', 'f32', '-r', String(SAMPLE_RATE), '-c', '1', '-', ...plan.soxEffects], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    espeak.stdout.pipe(sox.stdin);
    const chunks: Buffer[] = [];
    let errText = '';
    sox.stdout.on('data', (c: Buffer) => chunks.push(c));
    sox.stderr.on('data', (c: Buffer) => (errText += c.toString()));
    espeak.stderr.on('data', (c: Buffer) => (errText += c.toString()));
    let espeakCode: number | null = null;
    espeak.on('error', reject);
    sox.on('error', reject);
    espeak.on('close', (code) => (espeakCode = code));
    sox.on('close', (code) => {
      const what = `${plan.file} (espeak-ng -v ${plan.voice} "${plan.word}" | sox ${plan.soxEffects.join(' ')})`;
      if (code !== 0 || (espeakCode !== null && espeakCode !== 0)) {
        reject(new Error(`${what} failed: ${errText.trim()}`));
        return;
      }
      const buf = Buffer.concat(chunks);
      const samples = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength - (buf.byteLength % 4)));
      if (samples.length === 0) reject(new Error(`${what} produced no audio`));
      else resolve(samples);
    });
  });
}

function makeNoise(kind: NoiseKind, n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  if (kind === 'white') {
    for (let i = 0; i < n; i++) out[i] = rng.normal();
  } else if (kind === 'pink') {
    // Paul Kellet's refined pink filter (-3 dB/octave within 0.05 dB above 9 Hz at 44.1 kHz).
    let b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
    for (let i = 0; i < n; i++) {
      const w = rng.normal();
      b0 = 0.99886 * b0 + w * 0.0555179;
      b1 = 0.99332 * b1 + w * 0.0750759;
      b2 = 0.969 * b2 + w * 0.153852;
      b3 = 0.8665 * b3 + w * 0.3104856;
      b4 = 0.55 * b4 + w * 0.5329522;
      b5 = -0.7616 * b5 - w * 0.016898;
      out[i] = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
      b6 = w * 0.115926;
    }
  } else if (kind === 'brown') {
    // Leaky integration of white noise (-6 dB/octave), the leak keeps it from drifting off.
    let y = 0;
    for (let i = 0; i < n; i++) {
      y = 0.995 * y + rng.normal() * 0.1;
      out[i] = y;
    }
  } else {
    // Mains hum: 50 or 60 Hz with odd harmonics, over a little white hiss.
    const f0 = rng.uniform() < 0.5 ? 50 : 60;
    const phase = rng.uniform() * 2 * Math.PI;
    for (let i = 0; i < n; i++) {
      const t = (2 * Math.PI * f0 * i) / SAMPLE_RATE + phase;
      out[i] = Math.sin(t) + 0.5 * Math.sin(3 * t) + 0.25 * Math.sin(5 * t) + 0.2 * rng.normal();
    }
  }
  return scaleToRms(out, 1);
}

function rms(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / Math.max(1, x.length));
}

function scaleToRms(x: Float32Array, target: number): Float32Array {
  const r = rms(x);
  if (r > 0) for (let i = 0; i < x.length; i++) x[i]! *= target / r;
  return x;
}

const dbToGain = (db: number): number => Math.pow(10, db / 20);

/** Places the word at a random offset in a 1 s clip, sets its level, adds noise at the planned SNR. */
function mix(plan: ClipPlan, speech: Float32Array | null): Float32Array {
  const rng = new Rng(plan.seed);
  const clip = makeNoise('white', CLIP_SAMPLES, rng);
  const floor = dbToGain(plan.floorDb);
  for (let i = 0; i < CLIP_SAMPLES; i++) clip[i]! *= floor;
  if (speech === null) {
    const noise = makeNoise(plan.noise!, CLIP_SAMPLES, rng);
    const g = dbToGain(plan.snrDb!);
    for (let i = 0; i < CLIP_SAMPLES; i++) clip[i]! += noise[i]! * g;
    return clip;
  }
  let word = speech;
  if (word.length > CLIP_SAMPLES) {
    // Rare (slow speech plus a reverb tail): keep the first second with a 20 ms fade-out.
    word = word.slice(0, CLIP_SAMPLES);
    const fade = Math.round(0.02 * SAMPLE_RATE);
    for (let i = 0; i < fade; i++) word[CLIP_SAMPLES - 1 - i]! *= i / fade;
  }
  let peak = 0;
  for (let i = 0; i < word.length; i++) peak = Math.max(peak, Math.abs(word[i]!));
  const gain = peak > 0 ? dbToGain(plan.peakDb) / peak : 0;
  const offset = rng.int(CLIP_SAMPLES - word.length + 1);
  for (let i = 0; i < word.length; i++) clip[offset + i]! += word[i]! * gain;
  if (plan.noise !== null) {
    const speechRms = rms(word) * gain; // over the word itself, not the padded second
    const noise = makeNoise(plan.noise, CLIP_SAMPLES, rng);
    const g = speechRms / dbToGain(plan.snrDb!);
    for (let i = 0; i < CLIP_SAMPLES; i++) clip[i]! += noise[i]! * g;
  }
  return clip;
}

/** 16-bit PCM mono WAV bytes; samples clipped to [-1, 1]. */
function encodeWav16(x: Float32Array): Buffer {
  const buf = Buffer.alloc(44 + x.length * 2);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + x.length * 2, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(SAMPLE_RATE, 24);
  buf.writeUInt32LE(SAMPLE_RATE * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(x.length * 2, 40);
  for (let i = 0; i < x.length; i++) {
    const v = Math.max(-1, Math.min(1, x[i]!));
    buf.writeInt16LE(Math.round(v * 32767), 44 + i * 2);
  }
  return buf;
}

function writeAtomic(file: string, data: Buffer | string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

async function runPool<T>(items: T[], jobs: number, work: (item: T) => Promise<void>, onDone: (done: number) => void): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
      onDone(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker));
}

function csvCell(v: string | number | null): string {
  const s = v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  checkTools();
  const recipe = {
    generator: 'scripts/make-speech-commands.ts',
    // Any change to this script changes the recipe, so a stale set is never taken as current.
    generatorSha256: createHash('sha256').update(fs.readFileSync(new URL(import.meta.url))).digest('hex'),
    seed: opts.seed,
    sampleRate: SAMPLE_RATE,
    clipSeconds: CLIP_SAMPLES / SAMPLE_RATE,
    labels: LABELS,
    unknownWords: UNKNOWN_WORDS,
    accents: ACCENTS,
    variants: SPLIT_VARIANTS,
    perClass: opts.perClass,
    espeakNg: spawnSync('espeak-ng', ['--version'], { encoding: 'utf8' }).stdout.trim().split('\n')[0],
    sox: spawnSync('sox', ['--version'], { encoding: 'utf8' }).stdout.trim(),
  };
  const recipeFile = path.join(opts.out, 'recipe.json');
  if (!opts.force && fs.existsSync(recipeFile)) {
    const old = fs.readFileSync(recipeFile, 'utf8');
    if (old === JSON.stringify(recipe, null, 2) + '\n') {
      process.stdout.write(`${opts.out}: already holds this set (recipe.json matches); use --force to regenerate\n`);
      return;
    }
  }
  // A finished set is marked by recipe.json; remove the old one first so an interrupted run
  // never looks finished.
  fs.rmSync(recipeFile, { force: true });
  const plans: ClipPlan[] = [];
  for (const split of ['train', 'validation', 'test'] as Split[]) {
    for (const label of LABELS) {
      fs.rmSync(path.join(opts.out, split, label), { recursive: true, force: true });
      fs.mkdirSync(path.join(opts.out, split, label), { recursive: true });
      // _unknown_ spreads over 25 words, so training gets twice as many of it.
      const n = opts.perClass[split] * (label === UNKNOWN && split === 'train' ? 2 : 1);
      for (let i = 0; i < n; i++) plans.push(planClip(split, label, i, opts.seed));
    }
  }
  const t0 = Date.now();
  let lastReport = 0;
  await runPool(
    plans,
    opts.jobs,
    async (plan) => {
      const speech = plan.word === null ? null : await synthesise(plan);
      writeAtomic(path.join(opts.out, plan.file), encodeWav16(mix(plan, speech)));
    },
    (done) => {
      const now = Date.now();
      if (now - lastReport > 5000 || done === plans.length) {
        lastReport = now;
        process.stderr.write(`  ${done}/${plans.length} clips, ${((now - t0) / 1000).toFixed(0)} s\n`);
      }
    },
  );
  for (const split of ['train', 'validation', 'test'] as Split[]) {
    const rows = ['path,label,word,voice,speed,pitch,noise,snr_db,sox_effects'];
    for (const p of plans.filter((q) => q.split === split)) {
      rows.push(
        [p.file, p.label, p.word, p.voice, p.word ? p.speed : null, p.word ? p.pitch : null, p.noise, p.snrDb === null ? null : fixed(p.snrDb, 1), p.soxEffects.slice(10).join(' ')]
          .map(csvCell)
          .join(','),
      );
    }
    writeAtomic(path.join(opts.out, `${split}.csv`), rows.join('\n') + '\n');
  }
  writeAtomic(recipeFile, JSON.stringify(recipe, null, 2) + '\n');
  const counts = (['train', 'validation', 'test'] as Split[]).map((s) => `${s} ${plans.filter((p) => p.split === s).length}`).join(', ');
  process.stdout.write(`${opts.out}: ${plans.length} clips (${counts}) in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`make-speech-commands: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
