# SMT-T UPerNet trained from scratch on the generated toy shapes (tools/toy_data.py ade20k),
# 120 iterations sized for a CPU: the `make demo-seg` and end-to-end test recipe, not an ADE20K one.
_base_ = [
    'mmseg::_base_/models/upernet_swin.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
    '../_base_/smt.py',
]

custom_imports = dict(imports=['smt_mm'], allow_failed_imports=False)

data_root = 'data/toy_ade20k'
# Label-map value 0 is "unlabelled" (ignored), 1 the background, 2.. the shapes: with
# reduce_zero_label the classes below are values 1, 2, ... (see smt_mm.toydata.ade20k).
metainfo = dict(
    classes=('background', 'circle', 'rectangle', 'triangle', 'star'),
    palette=[(0, 0, 0), (220, 20, 60), (0, 128, 255), (0, 170, 0), (255, 170, 0)],
)
num_classes = 5
image_scale = (128, 128)
# Whole-image crops, as the ADE20K recipe crops 512 px of 512-scale images: smaller crops of
# upscaled images mostly lie inside one flat region and teach little.
crop_size = image_scale

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=_base_.smt_toy_backbone,
    decode_head=dict(in_channels=[64, 128, 256, 512], channels=64, num_classes=num_classes),
    auxiliary_head=dict(in_channels=256, channels=32, num_classes=num_classes),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),  # reduce_zero_label: from the dataset
    dict(type='RandomResize', scale=image_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),  # reduce_zero_label: from the dataset
    dict(type='PackSegInputs'),
]
dataset = dict(
    type='BaseSegDataset',
    data_root=data_root,
    metainfo=metainfo,
    img_suffix='.jpg',
    seg_map_suffix='.png',
    reduce_zero_label=True,
)
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**dataset, pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    dataset=dict(**dataset, pipeline=test_pipeline),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='CheckedIoUMetric')
test_evaluator = val_evaluator

max_iters = 120
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=10),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=10, end=max_iters),
]

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1),
)
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
