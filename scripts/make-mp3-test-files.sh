#!/bin/sh
# Makes the MP3 padding test inputs in test/data/audio from the embedded model's yes.wav (1.00 s,
# 16 kHz mono), with LAME 3.100 and SoX 14.4 (Debian's `lame` and `sox` packages). Committed, so the
# tests need neither tool:
#   yes_pad50ms.wav         yes.wav + 50 ms of silence (sox pad): 1.05 s, one frame past the 1 s window
#   yes_lame_64k.mp3        LAME at 64 kbit/s: the first frame holds the Xing/Info + LAME tag
#                           (encoder delay 576, padding), so a gapless decoder returns exactly 16000 samples
#   yes_lame_24k_notag.mp3  LAME's default 24 kbit/s for 16 kHz mono: the first frame is too small for
#                           the tag, so nothing says the encoder delay or padding (decodes to 1.08 s untrimmed)
set -eu
here="$(dirname "$0")"
yes="$here/../models/speech-commands/examples/yes.wav"
out="$here/../test/data/audio"
mkdir -p "$out"
sox "$yes" "$out/yes_pad50ms.wav" pad 0 0.05
lame --quiet --noreplaygain -b 64 "$yes" "$out/yes_lame_64k.mp3"
lame --quiet --noreplaygain -b 24 "$yes" "$out/yes_lame_24k_notag.mp3"
ls -l "$out"/yes_*
