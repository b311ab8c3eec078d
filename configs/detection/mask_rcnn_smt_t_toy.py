# SMT-T Mask R-CNN trained from scratch on the generated toy shapes (tools/toy_data.py coco),
# 400 iterations sized for a CPU: the `make demo` and end-to-end test recipe, not a COCO one.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/default_runtime.py',
    './_base_/mask_rcnn_tta.py',
    '../_base_/smt.py',
]

custom_imports = dict(imports=['smt_mm'], allow_failed_imports=False)

data_root = 'data/toy_coco/'
metainfo = dict(
    classes=('circle', 'rectangle', 'triangle', 'star'),
    palette=[(220, 20, 60), (0, 128, 255), (0, 170, 0), (255, 170, 0)],
)
num_classes = 4
image_scale = (128, 128)

model = dict(
    backbone=_base_.smt_toy_backbone,
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=128),
    # anchors of 16-256 px (strides 4-64 x scale 4): the toy boxes are 10-75 px
    rpn_head=dict(in_channels=128, feat_channels=128, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=128),
        bbox_head=dict(in_channels=128, fc_out_channels=256, num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=128),
        mask_head=dict(in_channels=128, conv_out_channels=64, num_classes=num_classes),
    ),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=150),
        rcnn=dict(sampler=dict(num=64)),
    ),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100), rcnn=dict(max_per_img=50)),
)

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'),
    ),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        # CocoDataset that counts the annotations it drops and refuses invalid ones
        # (docs/troubleshooting.md#annotations-that-the-dataset-drops)
        type='CheckedCocoDataset',
        data_root=data_root,
        metainfo=metainfo,
        # keep the images without objects: they must train too
        filter_cfg=dict(filter_empty_gt=False, min_size=0),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=2,
    num_workers=1,
    dataset=dict(
        type='CheckedCocoDataset', data_root=data_root, metainfo=metainfo, pipeline=test_pipeline
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

max_iters = 400
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0),
    clip_grad=dict(max_norm=10.0, norm_type=2),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', eta_min=2e-5, by_epoch=False, begin=50, end=max_iters),
]
auto_scale_lr = dict(enable=False, base_batch_size=4)

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=100, max_keep_ckpts=2),
)
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)

# The base's multi-scale + flip TTA around the 128 px training scale.
tta_img_scales = [(96, 96), (128, 128), (160, 160)]
tta_pipeline = [
    _base_.tta_pipeline[0],
    dict(
        _base_.tta_pipeline[1],
        transforms=[
            [dict(type='Resize', scale=scale, keep_ratio=True) for scale in tta_img_scales],
            *_base_.tta_pipeline[1].transforms[1:],
        ],
    ),
]
