#!/usr/bin/env bash
# Reproduces the embedded default model models/speech-commands/ from nothing:
#   1. makes the synthetic spoken-command set with espeak-ng + sox (scripts/make-speech-commands.ts),
#   2. trains a small AST from scratch with our own trainer (ast-audio train),
#   3. scores it on the held-out test voices (ast-audio eval),
#   4. copies the checkpoint and a few held-out example clips into models/speech-commands/.
#
# Usage: scripts/train-embedded.sh            (from the repository root; about 80 min on 2 CPU cores)
# Needs the Debian packages espeak-ng and sox: sudo apt-get install espeak-ng sox
# Work files go to .data/ (git-ignored). The numbers below are the ones the shipped model used.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in espeak-ng sox node; do
  command -v "$tool" >/dev/null || { echo "train-embedded: $tool not found; install it (Debian: sudo apt-get install espeak-ng sox; Node >= 20)" >&2; exit 1; }
done

DATA=.data/speech-commands
RUN1=.data/runs/speech-commands-1
RUN2=.data/runs/speech-commands-2
RUN3=.data/runs/speech-commands-3
RUN=.data/runs/speech-commands
MODEL=models/speech-commands
SEED=${SEED:-1}
AST=(node --import tsx src/cli/main.ts)

# 1. data: 12 classes; train 300 clips a class (600 for _unknown_), validation 40, test 80;
#    test and validation voices are espeak-ng variants never used in training.
node --import tsx scripts/make-speech-commands.ts --out "$DATA" --seed "$SEED" --train 300 --validation 40 --test 80 --jobs 2
#    Two more training sets (other seeds: new clips from the same training voices) for the later stages.
node --import tsx scripts/make-speech-commands.ts --out "$DATA-extra" --seed 2 --train 150 --validation 0 --test 0 --jobs 2
node --import tsx scripts/make-speech-commands.ts --out "$DATA-extra2" --seed 3 --train 150 --validation 0 --test 0 --jobs 2
# Manifests over several sets: paths relative to .data/
combine() {
  head -1 "$DATA/train.csv"
  for set in "$@"; do tail -n +2 "$set/train.csv" | sed "s#^#$(basename "$set")/#"; done
}
combine "$DATA" "$DATA-extra" > .data/train-combined.csv
combine "$DATA" "$DATA-extra" "$DATA-extra2" > .data/train-combined2.csv

# 2. train a small AST from scratch with our own trainer, in four stages (as the shipped model was made).
#    Stage 1: hidden 128, 4 layers, 4 heads, 64 mel bins, 1 s = 100 frames, 16x16 patches at
#    stride 10 (a 5x9 patch grid), 30 epochs, batch 32, cosine from 1e-3. A transformer from scratch
#    on 3,900 clips sits on a plateau for ~8 epochs before it learns; it ends at ~78 % held out.
#    Stage 2: the same weights on a finer patch grid (frequency stride 8, time stride 7: 7x13 patches
#    that cover all 64 mel bins and 97 of the 98 frames; position embeddings bilinearly interpolated),
#    30 epochs, batch 16, cosine from 5e-4, lighter SpecAugment (~93 % held out; _unknown_ the weak class).
#    Stages 3 and 4: more clips (the extra sets), natural class frequencies (so _unknown_, with twice
#    the clips, is seen twice as often), lower learning rates. Each stage's model averages its last epochs.
rm -rf "$RUN1" "$RUN2" "$RUN3" "$RUN"
mkdir -p "$RUN1"
cat > "$RUN1/../speech-commands-config.json" <<'EOF'
{
  "hidden_size": 128,
  "num_hidden_layers": 4,
  "num_attention_heads": 4,
  "intermediate_size": 256,
  "hidden_act": "gelu",
  "hidden_dropout_prob": 0.0,
  "attention_probs_dropout_prob": 0.0,
  "patch_size": 16,
  "frequency_stride": 10,
  "time_stride": 10,
  "num_mel_bins": 64,
  "max_length": 100
}
EOF
"${AST[@]}" train "$DATA/train" --validation "$DATA/validation" \
  --config "$RUN1/../speech-commands-config.json" --out "$RUN1" \
  --epochs 30 --batch-size 32 --lr 1e-3 --weight-decay 0.01 --schedule cosine --warmup-ratio 0.05 \
  --freq-mask 12 --time-mask 20 --balanced --average-last 5 --seed 1 --norm-stats compute
"${AST[@]}" train "$DATA/train" --validation "$DATA/validation" \
  --model "$RUN1" --out "$RUN2" --frequency-stride 8 --time-stride 7 \
  --epochs 30 --batch-size 16 --lr 5e-4 --weight-decay 0.01 --schedule cosine --warmup-ratio 0.03 \
  --freq-mask 8 --time-mask 10 --balanced --average-last 5 --seed 2 --norm-stats checkpoint
"${AST[@]}" train .data/train-combined.csv --validation "$DATA/validation" \
  --model "$RUN2" --out "$RUN3" \
  --epochs 12 --batch-size 16 --lr 2e-4 --weight-decay 0.01 --schedule cosine --warmup-ratio 0.05 \
  --freq-mask 8 --time-mask 10 --average-last 4 --seed 3 --norm-stats checkpoint
"${AST[@]}" train .data/train-combined2.csv --validation "$DATA/validation" \
  --model "$RUN3" --out "$RUN" \
  --epochs 8 --batch-size 16 --lr 1.5e-4 --weight-decay 0.01 --schedule cosine --warmup-ratio 0.05 \
  --freq-mask 8 --time-mask 10 --average-last 3 --seed 4 --norm-stats checkpoint

# 3. held-out voices
"${AST[@]}" eval "$DATA/test" --model "$RUN" --batch-size 32 --json | tee "$RUN/test-eval.json"

# 4. ship it
mkdir -p "$MODEL/examples"
cp "$RUN/config.json" "$RUN/preprocessor_config.json" "$RUN/model.safetensors" "$MODEL/"
for word in yes no up down left right on off stop go; do
  cp "$DATA/test/$word/$word-0000.wav" "$MODEL/examples/$word.wav"
done
echo "train-embedded: model in $MODEL, held-out result in $RUN/test-eval.json"
