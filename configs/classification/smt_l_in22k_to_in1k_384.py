# SMT-L fine-tuned on ImageNet-1k at 384x384 from the ImageNet-22k pre-training: the recipe of
# smt_l_in22k_to_in1k_224.py at 384 px with lr 2e-5 per 512 images (4e-5 for 8 GPUs x 128),
# warm-up from 2e-8 and cosine decay to 2e-7 per 512 images. As in the official 384 config, the
# test images are resized to 384x384 (bicubic) without center crop.
# Official fine-tuned file (evaluate as downloaded with tools/test.py CONFIG FILE):
# https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_large_22k_384_ft.pth
_base_ = './smt_l_in22k_to_in1k_224.py'

bgr_mean = [103.53, 116.28, 123.675]
bgr_std = [57.375, 57.12, 58.395]

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=384, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(pad_val=[round(x) for x in bgr_mean], interpolation='bicubic'),
    ),
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=bgr_mean,
        fill_std=bgr_std,
    ),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=384, backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=2e-5 * 1024 / 512))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=2e-8 / 2e-5,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True,
    ),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=2e-7 / 2e-5,
        by_epoch=True,
        begin=5,
        end=30,
        convert_to_iter_based=True,
    ),
]
