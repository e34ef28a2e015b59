#!/bin/sh
# Makes the small codec test files in test/data/audio with SoX 14.4 (Debian's `sox` package):
# one 0.25 s stereo 16 kHz two-tone clip as 16-bit WAV (the reference), FLAC 16-bit, FLAC 24-bit,
# and OGG Vorbis. MP3 and Opus test inputs are built byte by byte inside test/audio/decode.test.ts.
set -eu
out="$(dirname "$0")/../test/data/audio"
mkdir -p "$out"
sox -n -r 16000 -c 2 -b 16 -e signed-integer "$out/tone_stereo_16k.wav" synth 0.25 sine 440 sine 1000 gain -3
sox "$out/tone_stereo_16k.wav" "$out/tone_stereo_16k.flac"
sox -n -r 16000 -c 2 -b 24 -e signed-integer "$out/tone_stereo_16k_s24.wav" synth 0.25 sine 440 sine 1000 gain -3
sox "$out/tone_stereo_16k_s24.wav" "$out/tone_stereo_16k_s24.flac"
sox "$out/tone_stereo_16k.wav" -C 3 "$out/tone_stereo_16k.ogg"
ls -l "$out"
