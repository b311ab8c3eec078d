#!/usr/bin/env bash
# The GPU checks behind docs/benchmarks.md's GPU section, as one script for a lent CUDA machine.
#
# Usage (repository root, on the GPU machine): OUT=DIR bash .dev_scripts/gpu_check.sh
#
# The machine's image has torch, torchvision and CUDA but no OpenMMLab package and no network: the
# pure-Python wheels in .whl/ (mmengine, mmcv-lite, mmpretrain and what they need, downloaded
# here with `pip download --python-version 3.12 ...`) are installed first. mmcv's compiled ops do
# not build against that image's CUDA 13 (mmcv issue #3308), so mmdet and mmseg models (RoIAlign,
# NMS) cannot run there; the Swin baseline is mmpretrain's, the training run is a classifier.
set -uo pipefail
OUT=${OUT:-work_dirs/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
status=0
step() { printf '\n== %s %s\n' "$(date -u +%H:%M:%S)" "$*"; }

step "install the OpenMMLab wheels"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/device.txt"
python3 -c 'import torch, smt_mm; print(torch.cuda.get_device_name(), "CUDA", torch.version.cuda);
print(smt_mm.stack_summary())' | tee -a "$OUT/device.txt" || exit 1

step "CUDA tests: fused vs plain in fp32 / fp16 / bf16, torch.compile"
timeout 180 python3 -m pytest -m cuda tests/test_models/test_backbones/test_smt_cuda.py -v \
    -p no:cacheprovider -o addopts="" 2>&1 | tail -15 | tee "$OUT/cuda_tests.txt"
[ "${PIPESTATUS[0]}" = 0 ] || status=1

step "AMP training: SMT-B ImageNet recipe through tools/train.py --amp on generated 256 px images"
python3 tools/toy_data.py imagenet /tmp/toy_imagenet --num-train 256 --num-val 64 --size 256 \
    > /dev/null || status=1
timeout 110 python3 tools/train.py configs/classification/smt_b_in1k_224.py --amp \
    --work-dir /tmp/amp_cls --cfg-options train_dataloader.batch_size=64 \
    train_dataloader.dataset.data_root=/tmp/toy_imagenet val_dataloader.dataset.data_root=/tmp/toy_imagenet \
    test_dataloader.dataset.data_root=/tmp/toy_imagenet train_dataloader.num_workers=8 \
    train_cfg.max_epochs=2 train_cfg.val_interval=2 default_hooks.logger.interval=1 \
    2>&1 | grep -E 'Epoch\((train|val)\)|Error' | tail -12 | tee "$OUT/amp_train.txt"
[ "${PIPESTATUS[0]}" = 0 ] || status=1

step "benchmark: SMT fused / plain / Swin (mmpretrain), fp32 and fp16 AMP"
for amp in none fp16; do
    extra=(); [ "$amp" = none ] || extra=(--amp "$amp" --no-flops)
    timeout 120 python3 tools/analysis/benchmark.py --device cuda --no-isolate --warmup 3 \
        --repeats 10 --models smt-s-fused smt-s-plain swin-t-mmpretrain smt-b-fused smt-b-plain \
        swin-s-mmpretrain --pairs smt-s-plain:swin-t-mmpretrain smt-b-plain:swin-s-mmpretrain \
        --sizes 224x224x64 800x1344x2 "${extra[@]}" --out-dir "$OUT/bench_$amp" \
        > "$OUT/bench_$amp.md" 2>&1 || status=1
    tail -40 "$OUT/bench_$amp.md"
done
exit $status
