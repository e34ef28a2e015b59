#!/usr/bin/env bash
# A software WebGPU adapter for ORT's WebGPU EP on a machine without a GPU (CI, this 2-core box), so that
# test/runtime/webgpu.test.ts checks the WebGPU path's logits instead of skipping.
#
# Dawn (inside onnxruntime-node's libonnxruntime.so) runs on Vulkan; Mesa's lavapipe is a CPU Vulkan driver.
# Debian bookworm's own lavapipe (Mesa 22.3.6) is refused by Dawn ("Vulkan shaderUniform*ArrayDynamicIndexing
# required" -> "Failed to get a WebGPU adapter: No supported adapters"); bookworm-backports' Mesa 25.0.7 is
# accepted. This fetches that one package with apt-get download (Debian's archive, private lists; nothing is
# installed system-wide), unpacks it into .lavapipe/ (git-ignored) and writes .lavapipe/lvp_icd.json, the ICD
# file with an absolute library path, which the test picks up (or: export VK_ICD_FILENAMES=$PWD/.lavapipe/lvp_icd.json).
#
#   bash bench/gpu/software-adapter.sh
set -euo pipefail
ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
D="$ROOT/.lavapipe"
L=/tmp/ast-audio-bpo-lists # apt cleans this folder: the sources file lives beside it
mkdir -p "$D/debs" "$L/partial"
echo "deb http://deb.debian.org/debian bookworm-backports main" > "$L.sources.list"
o="-oDir::Etc::SourceList=$L.sources.list -oDir::Etc::SourceParts=/dev/null -oDir::State::Lists=$L -oAPT::Architecture=amd64 -oAPT::Architectures=amd64"
# shellcheck disable=SC2086
apt-get $o update >/dev/null
# shellcheck disable=SC2086
(cd "$D/debs" && apt-get $o download mesa-vulkan-drivers/bookworm-backports 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
deb=$(ls "$D"/debs/mesa-vulkan-drivers_*.deb | head -1)
dpkg -x "$deb" "$D/root"
lib=$(find "$D/root" -name libvulkan_lvp.so | head -1)
[ -n "$lib" ] || { echo "software-adapter: libvulkan_lvp.so not found in $deb" >&2; exit 1; }
api=$(grep -o '"api_version": *"[^"]*"' "$D"/root/usr/share/vulkan/icd.d/lvp_icd*.json | head -1 | cut -d'"' -f4)
cat > "$D/lvp_icd.json" <<EOF
{ "file_format_version": "1.0.0", "ICD": { "library_path": "$lib", "api_version": "$api" } }
EOF
echo "software-adapter: $(basename "$deb") -> $D/lvp_icd.json (Vulkan $api)"
