#!/usr/bin/env bash
# The GPU checks, as one command (about 6 minutes on an H200; each step has its own time limit):
#
#     bash benchmarks/gpu_check.sh            # figures under bench-out/gpu/ (or under $OUT/gpu)
#
#  1. python -m cnn_demo calibrate --device cuda   layout and dtype measured on this GPU, kept
#  2. python -m cnn_demo bench --device cuda        tutorial pipeline vs this one, fraction of peak
#  3. python -m cnn_demo train --device cuda        the tutorial's recipe, 10 epochs (target: an epoch <= 1 s)
#  4. python -m benchmarks.time_to_accuracy --device cuda
#                                                   Quick and Quick 99% in Chromium, from the click
#                                                   (target on an H200: 99% <= 3 s after the click)
#  5. tests/e2e/test_train.py::test_a_run_on_the_gpu  a Train page run on cuda, in Chromium
# Steps 4 and 5 need Chromium (apt-get install -y chromium); without it they are reported as
# skipped and the script still ends 1. With no CUDA GPU it stops at once with exit code 2.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-bench-out}/gpu"
mkdir -p "$out"
if ! python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "error: no CUDA GPU here (torch.cuda.is_available() is False); nothing was measured" >&2
    exit 2
fi
failed=0
step() {  # step NAME LIMIT_S COMMAND...: run it, keep its output, note a failure and go on
    local name=$1 limit=$2
    shift 2
    echo "== $name: $*" | tee -a "$out/summary.txt"
    timeout "$limit" "$@" 2>&1 | tee "$out/$name.txt" | tail -n 12
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc" | tee -a "$out/summary.txt"
    [ "$rc" -eq 0 ] || failed=1
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/nvidia-smi.txt"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$out/nvidia-smi.txt"
step calibrate 90 python -m cnn_demo calibrate --device cuda --again --json
step bench 120 python -m cnn_demo bench --device cuda --json
step seed-10-epochs 150 python -m cnn_demo train --device cuda --out "$out/seed-cuda.safetensors"
if [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
    step time-to-accuracy 240 python -m benchmarks.time_to_accuracy --device cuda --rounds 3 --json
    step e2e-train-cuda 120 python -m pytest -q tests/e2e/test_train.py -k test_a_run_on_the_gpu
else
    echo "== time-to-accuracy, e2e-train-cuda: skipped, no Chromium at ${CHROMIUM_PATH:-/usr/bin/chromium}" | tee -a "$out/summary.txt"
    failed=1
fi
exit "$failed"
