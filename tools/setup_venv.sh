#!/usr/bin/env bash
# Builds a test environment with the exact versions of a constraints file: the reference stack
# (requirements/constraints.txt, .venv/) or the oldest supported one
# (requirements/constraints-oldest.txt, .venv-oldest/).
#
# Usage: bash tools/setup_venv.sh   (normally through `make venv` / `make venv-oldest`, which
#        skip it when up to date)
#
# Environment:
#   PYTHON           interpreter for the venv (default: python3.11)
#   VENV             venv folder (default: .venv)
#   CONSTRAINTS      the exact versions (default: requirements/constraints.txt)
#   SMT_MM_CACHE     wheel cache outside the repo (default: ${XDG_CACHE_HOME:-$HOME/.cache}/smt_mm)
#
# mmcv 2.1.0 has no CPU wheel on PyPI: it is built once from the PyPI sdist with its compiled
# CPU ops (~9 min on 2 cores) and cached, keyed by the mmcv, torch and Python versions.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
CONSTRAINTS=${CONSTRAINTS:-requirements/constraints.txt}
CACHE=${SMT_MM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smt_mm}

step_no=0
step() {
    step_no=$((step_no + 1))
    printf '\n==> [%d/6 %s] %s\n' "$step_no" "$(date +%H:%M:%S)" "$*"
}
die() {
    printf '\nERROR: %s\n' "$*" >&2
    exit 1
}
pin() {  # pin NAME -> exact version from the constraints file
    sed -n "s/^$1==\([^ ]*\).*/\1/p" "$CONSTRAINTS"
}
pip_install() {
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS" "$@" 2>&1 \
        | grep -v 'is ignored: it is neither a file nor a directory' || true
    return "${PIPESTATUS[0]}"
}

command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.11 or set PYTHON=/path/to/python3.11"
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11)' \
    || die "$PYTHON is not Python 3.11 (the test environments pin 3.11); set PYTHON=..."
[ -f "$CONSTRAINTS" ] || die "no constraints file $CONSTRAINTS"

step "virtual environment $VENV (seconds)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip_install "setuptools==$(pin setuptools)" "wheel==$(pin wheel)"

step "torch $(pin torch) + torchvision $(pin torchvision) (about 1.5 min the first time, 5 GB)"
pip_install "torch==$(pin torch)" "torchvision==$(pin torchvision)" "numpy==$(pin numpy)"

MMCV=$(pin mmcv)
TORCH=$("$VENV/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])')
PYV=$("$VENV/bin/python" -c 'import sys; print("py%d%d" % sys.version_info[:2])')
WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV-torch$TORCH-$PYV"
step "mmcv $MMCV with compiled ops for torch $TORCH (cache: $WHEEL_DIR)"
if ! ls "$WHEEL_DIR"/mmcv-"$MMCV"-*.whl >/dev/null 2>&1; then
    echo "    no cached wheel: building from the PyPI sdist (about 9-10 min on 2 cores)"
    build=$(mktemp -d)
    trap 'rm -rf "$build"' EXIT
    "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
        --no-build-isolation -d "$build" "mmcv==$MMCV" 2>&1 | grep -v 'is ignored' || true
    tar -xzf "$build/mmcv-$MMCV.tar.gz" -C "$build" || die "could not download the mmcv $MMCV sdist"
    # torch >= 2.14 headers need C++20; mmcv 2.1.0 hard-codes -std=c++17 (mmcv issue #3341).
    # Older torch (2.1) builds with mmcv's own C++17, as published.
    TORCH_INCLUDE=$("$VENV/bin/python" -W ignore -c 'import os, torch; print(os.path.dirname(torch.__file__))')/include
    if grep -q '__cplusplus < 202002L' "$TORCH_INCLUDE/torch/csrc/api/include/torch/all.h"; then
        echo "    torch $TORCH headers need C++20: raising mmcv's -std=c++17"
        sed -i 's/-std=c++17/-std=c++20/g; s#/std:c++17#/std:c++20#g' "$build/mmcv-$MMCV/setup.py"
        grep -q 'std=c++20' "$build/mmcv-$MMCV/setup.py" || die "could not raise mmcv's C++ standard"
    fi
    # --no-build-isolation: an isolated build has no torch and silently drops mmcv._ext.
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} "$VENV/bin/python" -m pip wheel \
        --disable-pip-version-check --no-deps --no-build-isolation -w "$build/dist" \
        "$build/mmcv-$MMCV" > "$build/build.log" 2>&1 \
        || { tail -40 "$build/build.log"; die "mmcv build failed (log above)"; }
    mkdir -p "$WHEEL_DIR"
    cp "$build"/dist/mmcv-"$MMCV"-*.whl "$WHEEL_DIR"/
else
    echo "    using the cached wheel"
fi
pip_install --no-deps "$WHEEL_DIR"/mmcv-"$MMCV"-*.whl

step "OpenMMLab toolboxes, ONNX tools, test and lint tools, smt_mm (about 1 min the first time)"
pip_install -r requirements/runtime.txt -r requirements/det.txt -r requirements/seg.txt \
    -r requirements/cls.txt -r requirements/deploy.txt -r requirements/tests.txt \
    -r requirements/lint.txt \
    "mmcv==$MMCV"
pip_install --no-deps -e .

step "checking mmcv's compiled ops"
"$VENV/bin/python" - <<'PY' || die "mmcv's compiled ops do not work; delete the cached wheel and rerun"
import torch
from mmcv.ops import RoIAlign, batched_nms, nms
import mmcv._ext  # noqa: F401  the compiled extension itself

boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.], [50., 50., 60., 60.]])
scores = torch.tensor([0.9, 0.8, 0.7])
_, keep = nms(boxes, scores, iou_threshold=0.5)
assert keep.tolist() == [0, 2], keep
feats = torch.rand(1, 4, 16, 16, requires_grad=True)
rois = torch.tensor([[0., 1., 1., 9., 9.]])
RoIAlign((2, 2), 1.0, 2)(feats, rois).sum().backward()
assert feats.grad.abs().sum() > 0
_, keep = batched_nms(boxes, scores, torch.tensor([0, 1, 0]), dict(iou_threshold=0.5))
print('    mmcv._ext loaded; nms, batched_nms and RoIAlign (fwd+bwd) run')
PY

step "checking the stack imports"
"$VENV/bin/python" -c 'import smt_mm; print("    " + smt_mm.stack_summary())' \
    || die "smt_mm does not import in $VENV"
echo
echo "Environment ready: $VENV ($CONSTRAINTS)"
