#!/usr/bin/env bash
# Builds, HERE, the folder that the device run carries: .gpu-carry/ in the repo root (git-ignored).
#
#   .gpu-carry/ast-gpu.tar.xz   node            this machine's Node binary (the device has no Node)
#                               app/            bench/gpu/ours.ts and the src/ it imports, compiled by tsc
#                               app/node_modules/onnxruntime-node   JS + the Linux x64 binding and
#                                               libonnxruntime.so.1 (WebGPU EP built in; CUDA EP not shipped)
#                               app/node_modules/onnxruntime-common
#   .gpu-carry/gl/*.deb         the Vulkan loader and GL dispatch .debs, the device tool's README recipe
#                               (dpkg -x'd into / there; the NVIDIA ICD itself is on the machine)
#
# The whole call carries at most 64 MiB (the working tree included): the script fails if the folder and the
# tree together pass that. Usage: bash bench/gpu/build-carry.sh   (from anywhere in the checkout)
set -euo pipefail
ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$ROOT"
C=.gpu-carry
S=$C/stage
LIMIT=$((64 * 1024 * 1024))

[ "$(uname -m)" = x86_64 ] || { echo "build-carry: the device is x86-64; build the carry on an x86-64 machine (this is $(uname -m))" >&2; exit 1; }
ORT=node_modules/onnxruntime-node
BIN=$ORT/bin/napi-v6/linux/x64
[ -f "$BIN/onnxruntime_binding.node" ] && [ -f "$BIN/libonnxruntime.so.1" ] || { echo "build-carry: $BIN is incomplete: run npm ci first" >&2; exit 1; }

rm -rf "$C"
mkdir -p "$S/app/node_modules/onnxruntime-node/bin/napi-v6/linux" "$S/app/node_modules/onnxruntime-common" "$C/gl"

echo "build-carry: compiling bench/gpu/ours.ts and its src imports"
npx --no-install tsc -p bench/gpu/tsconfig.json
echo '{ "type": "module", "private": true }' > "$S/app/package.json"

echo "build-carry: onnxruntime-node $(node -p "require('./$ORT/package.json').version") (linux x64 binaries only)"
cp "$ORT/package.json" "$S/app/node_modules/onnxruntime-node/"
cp -r "$ORT/dist" "$S/app/node_modules/onnxruntime-node/"
cp -r "$BIN" "$S/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
cp -r node_modules/onnxruntime-common/package.json node_modules/onnxruntime-common/dist "$S/app/node_modules/onnxruntime-common/"

NODE_BIN=$(command -v node)
echo "build-carry: node $(node --version) from $NODE_BIN"
cp "$NODE_BIN" "$S/node"

echo "build-carry: compressing (xz: 1 to 10 minutes, depending on the load)"
tar -C "$S" -cf - node app | xz -T2 -6 > "$C/ast-gpu.tar.xz"
rm -rf "$S"

echo "build-carry: Vulkan loader .debs (apt-get download, amd64 lists in /tmp/amd64)"
mkdir -p /tmp/amd64/partial
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
# shellcheck disable=SC2086
apt-get $o update >/dev/null
# shellcheck disable=SC2086
(cd "$C/gl" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
ls "$C/gl"/libvulkan1_*.deb >/dev/null

carry=$(du -sb "$C" | cut -f1)
tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- | tail -1 | cut -f1)
printf 'build-carry: %s is %.1f MiB; working tree %.1f MiB; together %.1f of 64 MiB\n' "$C" \
  "$(echo "$carry / 1048576" | bc -l)" "$(echo "$tree / 1048576" | bc -l)" "$(echo "($carry + $tree) / 1048576" | bc -l)"
if [ $((carry + tree)) -ge $LIMIT ]; then
  echo "build-carry: over the device tool's 64 MiB limit" >&2
  exit 1
fi
