# The box-only form of mmdet's Swin / ConvNeXt 3x recipe (DETR's multi-scale + crop training,
# 36 epochs, AdamW lr 1e-4), for detectors whose mmdet file has no such schedule.
# ms_crop_* names: applied by each config over its mmdet file (bases may not share a key).
ms_crop_scales = [(short, 1333) for short in range(480, 801, 32)]
ms_crop_train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomChoice',
        transforms=[
            [dict(type='RandomChoiceResize', scales=ms_crop_scales, keep_ratio=True)],
            [
                dict(
                    type='RandomChoiceResize',
                    scales=[(400, 1333), (500, 1333), (600, 1333)],
                    keep_ratio=True,
                ),
                dict(
                    type='RandomCrop',
                    crop_type='absolute_range',
                    crop_size=(384, 600),
                    allow_negative_crop=True,
                ),
                dict(type='RandomChoiceResize', scales=ms_crop_scales, keep_ratio=True),
            ],
        ],
    ),
    dict(type='PackDetInputs'),
]

ms_crop_max_epochs = 36
ms_crop_param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=ms_crop_max_epochs,
        by_epoch=True,
        milestones=[27, 33],
        gamma=0.1,
    ),
]
ms_crop_optimizer = dict(
    _delete_=True, type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05
)
