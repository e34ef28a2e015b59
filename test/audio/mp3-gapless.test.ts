/**
 * MP3 gapless info (mp3-gapless.ts) on LAME's own files (scripts/make-mp3-test-files.sh): the tag's
 * values are checked against what is known independently (the source is 16000 samples; LAME 3.100's
 * encoder delay is 576), and decoding is checked by where the original clip lies in the output.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeAudio } from '../../src/audio/decode.js';
import { MP3_DECODER_DELAY, readMp3GaplessInfo, trimMp3Gapless } from '../../src/audio/mp3-gapless.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

const read = (name: string) => new Uint8Array(readFileSync(join(REPO_ROOT, 'test/data/audio', name)));
const YES = new Uint8Array(readFileSync(join(REPO_ROOT, 'models/speech-commands/examples/yes.wav')));

/** The shift of `clip` inside `decoded` that best matches it (cross-correlation peak). */
function offsetOf(clip: Float32Array, decoded: Float32Array, maxShift: number): number {
  let best = -Infinity;
  let at = 0;
  for (let o = 0; o <= maxShift; o++) {
    let s = 0;
    for (let i = 0; i < clip.length && i + o < decoded.length; i++) s += clip[i]! * decoded[i + o]!;
    if (s > best) [best, at] = [s, o];
  }
  return at;
}

test('the LAME tag of a 64 kbit/s file: 30 frames of 576, delay 576, padding to 16000 samples', () => {
  const info = readMp3GaplessInfo(read('yes_lame_64k.mp3'))!;
  assert.equal(info.samplesPerFrame, 576); // MPEG-2 Layer III at 16 kHz
  assert.equal(info.encoderDelay, 576);
  assert.equal(info.frames! * info.samplesPerFrame - info.encoderDelay! - info.padding!, 16000);
  // Behind an ID3v2 tag (10-byte header + 20 bytes of frames) the same frame is found.
  const id3 = new Uint8Array(30);
  id3.set([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 20]);
  const tagged = new Uint8Array(30 + read('yes_lame_64k.mp3').length);
  tagged.set(id3);
  tagged.set(read('yes_lame_64k.mp3'), 30);
  assert.deepEqual(readMp3GaplessInfo(tagged), info);
});

test('decoded MP3s line up with the original: tagged exactly, untagged after the 576-sample encoder delay', async () => {
  const clip = (await decodeAudio(YES)).waveform;
  const tagged = (await decodeAudio(read('yes_lame_64k.mp3'), { source: 'tagged' })).waveform;
  assert.equal(tagged.length, 16000);
  assert.equal(offsetOf(clip, tagged, 2000), 0);
  assert.deepEqual(readMp3GaplessInfo(read('yes_lame_24k_notag.mp3')), { samplesPerFrame: 576 });
  const untagged = (await decodeAudio(read('yes_lame_24k_notag.mp3'), { source: 'untagged' })).waveform;
  assert.equal(untagged.length, 30 * 576 - MP3_DECODER_DELAY);
  assert.equal(offsetOf(clip, untagged, 2000), 576, 'only the decoder delay is removed without the tag');
});

test('a decoder that did not trim: the tag\'s delay (+ decoder delay) and padding are cut', () => {
  const bytes = read('yes_lame_64k.mp3');
  const full = Float32Array.from({ length: 30 * 576 }, (_, i) => i);
  const [trimmed] = trimMp3Gapless(bytes, [full]);
  assert.equal(trimmed!.length, 16000);
  assert.equal(trimmed![0], 576 + 529);
  // Already trimmed (mpg123's usual output) or shorter than the tag says: left as it is.
  const exact = new Float32Array(16000);
  assert.equal(trimMp3Gapless(bytes, [exact])[0], exact);
  // No MPEG frame in the bytes: nothing to do.
  const none = [new Float32Array(10)];
  assert.equal(trimMp3Gapless(new Uint8Array(100), none), none);
});
