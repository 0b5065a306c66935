#!/usr/bin/env bash
# GPU throughput check for one lent GPU (finishes in well under 5 minutes).
#
#   bash benchmarks/gpu.sh            # from the repository root, on the GPU host
#
# Generates its own synthetic records there (nothing large travels), then prints
# img/s for efficientnet_lite0 (eager and torch.compile, batch 256) and vgg16
# (batch 128), each fed from records (GPU JPEG decode + batched GPU augmentation)
# and from in-memory synthetic tensors, with the ratio. Target: records >= 95% of
# synthetic. Anchors (PyTorch 2.11, bf16, channels_last, synthetic): lite0 5,889
# img/s eager / 8,056 compiled; vgg16 3,161 img/s.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
export HF_HUB_OFFLINE=1 PYTHONPATH="${PWD}${PYTHONPATH:+:$PYTHONPATH}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

"$PY" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device: run this on the GPU host"
print(torch.__version__, torch.cuda.get_device_name())
PY
nvidia-smi --query-gpu=name,memory.used,memory.total,utilization.gpu --format=csv || true

start=$(date +%s)
"$PY" benchmarks/synthetic_records.py "$WORK/rec" --images 12288 --classes 100 --size 256
echo "records generated in $(( $(date +%s) - start ))s"

echo "== records feed alone (no model)"
timeout 120 "$PY" benchmarks/bench_feed.py --records "$WORK/rec" --workers 12 --batch-size 256 || echo "FAILED: bench_feed"
run() { echo "== $*"; timeout 150 "$PY" benchmarks/bench_train.py --records "$WORK/rec" --workers 12 "$@" || echo "FAILED: $*"; }
run --model efficientnet_lite0 --batch-size 256 --steps 40 --warmup 10
run --model efficientnet_lite0 --batch-size 256 --steps 40 --warmup 15 --compile
run --model vgg16 --batch-size 128 --steps 30 --warmup 8
echo "total $(( $(date +%s) - start ))s"
