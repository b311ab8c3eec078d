# SMT-T UPerNet trained from scratch on the generated toy shapes (`make demo-seg`, the end-to-end
# tests). Make the data with: python tools/toy_data.py ade20k data/toy_ade20k (each shape in its
# category's hue on grey, flat backgrounds; --textured and --shape-only for harder sets). Small
# images (128x128), slim heads (64/32 channels instead of 512/256), batch 4 and a short
# iteration-based schedule, so that it runs within minutes on two CPU cores. Otherwise the ADE20K
# recipe: random resize (0.5-2x) + crop + flip + photometric distortion, AdamW with a linear
# warm-up then poly decay, whole-image single-scale test and `--tta` multi-scale (ratios
# 0.5-1.75 of the 128 px image) + flip: 12 passes costing ~17x the single-scale one.
# Measured (2 cores, 200/50 images): 120 iterations, 0.75 s each, reach mIoU 84.6 (IoU:
# background 97.6, circle 97.1, rectangle 93.2, triangle 69.2, star 65.8; untrained ~4).
# The crop is the image size, as in the ADE20K recipe (512 crops of 512-scale images): 64 px crops
# of images resized up to 256 px mostly lie inside one flat region (the decode loss stayed at ~1.05).
# With --shape-only data (random colours: only the outline tells the classes apart) the same
# recipe learns the background alone (mIoU 15.9-16.3 after 25-400 iterations): telling four
# outlines apart pixel by pixel takes a from-scratch segmenter far longer than a CPU demo.
# Not an ADE20K recipe: see upernet_smt_*_512x512_160k_ade20k.py.
_base_ = [
    'mmseg::_base_/models/upernet_swin.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
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
crop_size = image_scale

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='SMT',
        arch='tiny',
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=None,  # from scratch: the toy shapes need no ImageNet features
    ),
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
