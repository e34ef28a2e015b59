#!/usr/bin/env bash
# The on-device half of the GPU benchmark (bench/gpu/README.md): one command on the lent H200 that
#   1. installs the carried Vulkan loader (.gpu-carry/gl/*.deb) and unpacks Node + our compiled code,
#   2. generates the AST-Base checkpoint from a seed there (no 346 MB upload) and our CPU fp32 logits,
#   3. times transformers' ASTForAudioClassification (eager, sdpa x fp32, fp16) on the same files,
#   4. lists the nodes that fall back from the WebGPU EP to the CPU (ORT's verbose log),
#   5. times ours on the WebGPU EP (each dtype x attention, batch 1/2/4/8, median of --iters after warm-up),
#   6. writes table.md; everything lands in $OUT (log.txt, env.txt, placements*.txt, ours.json,
#      transformers.json, table.md: 7 files at most, the tool brings back 8).
#
#   bash bench/gpu/device.sh [--dtypes fp32,fp16] [--attention plain,fused] [--fetch all,logits] [--batches 1,2,4,8] [--iters 20]
#                            [--warmup 3] [--size base] [--seed 0] [--ep webgpu]
#   bash bench/gpu/device.sh --dry-run [...]   # here, on a CPU machine: no dpkg into /, a 2-layer model
#                                              # (--size small), ep cpu, and the PyTorch oracle standing in for
#                                              # transformers (eager fp32; ../shared/reference/oracle.py)
# Each step has its own timeout so that one hang costs that step, not the whole lease; together they stay under
# 560 s (80 + 80 + 2 x 50 + 200 + 100), inside a 600 s run. Expected: about 3 to 4 minutes.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

DRY=0 DTYPES=fp32,fp16 ATTENTION=plain,fused FETCH=all,logits BATCHES=1,2,4,8 ITERS=20 WARMUP=3 SIZE= SEED=0 EP=
ORACLE="$ROOT/../shared/reference/oracle.py"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --dtypes) DTYPES=$2; shift ;;
    --attention) ATTENTION=$2; shift ;;
    --fetch) FETCH=$2; shift ;;
    --batches) BATCHES=$2; shift ;;
    --iters) ITERS=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --size) SIZE=$2; shift ;;
    --seed) SEED=$2; shift ;;
    --ep) EP=$2; shift ;;
    --oracle) ORACLE=$2; shift ;;
    *) echo "device.sh: unknown argument $1 (see the comment at the top of bench/gpu/device.sh)" >&2; exit 2 ;;
  esac
  shift
done
if [ $DRY = 1 ]; then SIZE=${SIZE:-small} EP=${EP:-cpu}; else SIZE=${SIZE:-base} EP=${EP:-webgpu}; fi
# the device's python3 holds torch + transformers; here Debian's /usr/bin/python3 holds torch (for the oracle)
PY=python3; [ $DRY = 1 ] && [ -x /usr/bin/python3 ] && PY=/usr/bin/python3

OUT=${OUT:-/tmp/ast-gpu-out}
W=${AST_GPU_WORK:-/tmp/ast-gpu}
mkdir -p "$OUT" "$W"
# Dawn's Vulkan surface code complains on stderr at every session without one
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$W/xdg}
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
exec > >(tee -a "$OUT/log.txt") 2>&1
step() { echo "== $(date +%T) $*"; }
T0=$(date +%s)

C=.gpu-carry
[ -f $C/ast-gpu.tar.xz ] || { echo "device.sh: $C/ast-gpu.tar.xz missing: run bash bench/gpu/build-carry.sh here and name .gpu-carry in the run's carry" >&2; exit 1; }

if [ $DRY = 0 ]; then
  step "Vulkan loader from $C/gl"
  for f in $C/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  # the device README: where no driver is found, point the loader at the NVIDIA ICD
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  fi
fi

step "unpack Node and the app into $W"
if command -v xz >/dev/null; then
  tar -C "$W" -xJf $C/ast-gpu.tar.xz
else # no xz binary: Python's lzma reads it too
  $PY -c "import sys, tarfile; t = tarfile.open(sys.argv[1], 'r:xz'); t.extractall(sys.argv[2], filter='tar')" $C/ast-gpu.tar.xz "$W"
fi
NODE="$W/node"
OURS=("$NODE" "$W/app/bench/gpu/ours.js")
M="$W/model"

{
  echo "date: $(date -u +%FT%TZ)  dry-run: $DRY  size: $SIZE  ep: $EP"
  echo "host: $(uname -m) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader | sed 's/^/gpu: /'
  echo "node: $("$NODE" --version); onnxruntime-node: $("$NODE" -p "require('$W/app/node_modules/onnxruntime-node/package.json').version")"
  echo "python: $($PY -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__)' 2>&1)"
  echo "transformers: $($PY -c 'import transformers; print(transformers.__version__)' 2>&1 | tail -1)"
  echo "vulkan ICDs: $(ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>/dev/null | tr '\n' ' ')"
  echo "vulkan: $(ldconfig -p | grep -m1 'libvulkan.so.1' | sed 's/^[[:space:]]*//') VK_DRIVER_FILES=${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-}}"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

step "checkpoint ($SIZE, seed $SEED) and CPU fp32 reference logits"
timeout 80 "${OURS[@]}" checkpoint --out "$M" --size "$SIZE" --seed "$SEED" || { echo "checkpoint failed"; exit 1; }
timeout 80 "${OURS[@]}" reference --model "$M" || { echo "reference failed"; exit 1; }

if [ $DRY = 0 ]; then
  step "transformers: eager, sdpa x fp32, fp16 on cuda"
  PYTHONUNBUFFERED=1 timeout 100 $PY bench/gpu/hf_bench.py --model "$M" --json "$OUT/transformers.json" --device cuda \
    --attn eager,sdpa --dtypes fp32,fp16 --batches "$BATCHES" --iters "$ITERS" --warmup "$WARMUP" || echo "transformers bench exited $?"
else
  step "oracle (transformers stand-in): eager fp32 on cpu"
  PYTHONUNBUFFERED=1 timeout 240 $PY bench/gpu/hf_bench.py --model "$M" --json "$OUT/transformers.json" --device cpu \
    --attn eager --dtypes fp32 --batches "$BATCHES" --iters "$ITERS" --warmup "$WARMUP" --oracle "$ORACLE" || echo "oracle bench exited $?"
fi

for dt in ${DTYPES//,/ }; do
  step "node placements: $EP $dt plain (ORT verbose log, nodes not on the $EP EP)"
  timeout 50 "${OURS[@]}" placements --model "$M" --ep "$EP" --dtype "$dt" --attention plain 2> "$W/verbose-$dt.log" >/dev/null
  echo "exit $?" > "$OUT/placements-$dt.txt"
  grep -E 'VerifyEachNodeIsAssignedToAnEp|Failed|rror' "$W/verbose-$dt.log" | grep -v XDG_RUNTIME_DIR | sed 's/^.*\] //' | head -400 >> "$OUT/placements-$dt.txt"
  head -5 "$OUT/placements-$dt.txt"
done

step "ours: $EP, dtypes $DTYPES, attention $ATTENTION, fetch $FETCH, batches $BATCHES, $ITERS runs after $WARMUP warm-up"
timeout 200 "${OURS[@]}" bench --model "$M" --json "$OUT/ours.json" --ep "$EP" --dtypes "$DTYPES" --attention "$ATTENTION" \
  --fetch "$FETCH" --batches "$BATCHES" --iters "$ITERS" --warmup "$WARMUP" || echo "ours bench exited $?"

step "table"
first=${DTYPES%%,*}
"${OURS[@]}" table --ours "$OUT/ours.json" --hf "$OUT/transformers.json" --placements "$OUT/placements-$first.txt" --env "$OUT/env.txt" > "$OUT/table.md"
cat "$OUT/table.md"
step "done in $(( $(date +%s) - T0 )) s; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
