# SMT-T classifier trained from scratch on the generated toy shapes (tools/toy_data.py imagenet),
# 3 short epochs on a CPU: the end-to-end test recipe, not an ImageNet one.
_base_ = ['mmpretrain::_base_/default_runtime.py']

custom_imports = dict(imports=['smt_mm'], allow_failed_imports=False)

data_root = 'data/toy_imagenet/'
# Label i is line i of meta/classes.txt (sorted names, as a scan of the class folders gives).
classes = ('circle', 'rectangle', 'star', 'triangle')
data_preprocessor = dict(
    num_classes=len(classes),
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='SMT', arch='tiny', drop_path_rate=0.0, out_indices=(3,), out_type='avg_featmap'
    ),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=len(classes),
        in_channels=512,
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.0),
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1,),
    ),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/train.txt',
        data_prefix='train',
        metainfo=dict(classes=classes),
        pipeline=train_pipeline,
    ),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=1,
    dataset=dict(
        train_dataloader['dataset'],
        ann_file='meta/val.txt',
        data_prefix='val',
        pipeline=test_pipeline,
    ),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1,))
test_evaluator = val_evaluator

max_epochs = 3
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
    clip_grad=dict(max_norm=5.0),
)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True,
    ),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=0.01,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True,
    ),
]
auto_scale_lr = dict(base_batch_size=16)

custom_hooks = [dict(type='SMTCheckpointHook')]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1),
)
randomness = dict(seed=0)
