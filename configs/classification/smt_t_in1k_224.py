# SMT-T image classification on ImageNet-1k at 224x224, the official recipe (300 epochs); the
# S/B/L and ImageNet-22k configs inherit this file and change only what differs.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]

custom_imports = dict(imports=['smt_mm'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='SMT',
        arch='tiny',
        drop_path_rate=0.1,
        out_indices=(3,),
        # The official head input: stage-4 LayerNorm, then the mean over tokens.
        out_type='avg_featmap',
    ),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=512,
        # The official classifier initialisation (truncated normal, std 0.02, zero bias).
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.0),
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        cal_acc=False,
    ),
    # timm's Mixup(prob=1.0, switch_prob=0.5): every batch gets Mixup or CutMix, 50/50.
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.2), dict(type='CutMix', alpha=1.0)]),
)

# The data pipelines are mmpretrain's Swin ones, which are the official (timm) transforms:
# RandomResizedCrop 224 (bicubic, PIL), horizontal flip, RandAugment (2 ops, magnitude 9, std
# 0.5, increasing), RandomErasing 0.25 with per-pixel random values; test resize 256 + crop 224.
# The official config lists color jitter 0.4, but timm disables color jitter whenever
# RandAugment is on, so the official runs never applied it and neither do we.
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader

# 8 GPUs x 128 images = 1024 images per iteration: lr = 1e-3 * 1024 / 512.
# tools/train.py --auto-scale-lr rescales it linearly for another total batch size.
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3 * 1024 / 512, weight_decay=0.05),
    # The official rule: no weight decay on any 1-D parameter (norms, biases, layer scales).
    paramwise_cfg=dict(
        _delete_=True, norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0
    ),
    clip_grad=dict(max_norm=5.0),
)
param_scheduler = [
    # 1e-7 per 512 images at the start of warm-up, 1e-6 per 512 images at the end of training.
    dict(
        type='LinearLR',
        start_factor=1e-7 / 1e-3,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True,
    ),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=1e-6 / 1e-3,
        by_epoch=True,
        begin=5,
        end=300,
        convert_to_iter_based=True,
    ),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
auto_scale_lr = dict(base_batch_size=1024)

custom_hooks = [dict(type='SMTCheckpointHook')]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto')
)
