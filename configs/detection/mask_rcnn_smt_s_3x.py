# Mask R-CNN + FPN with an ImageNet-1K SMT-S backbone on COCO, 3x schedule (36 epochs, LR steps at
# 27 and 33) with mmdet's Swin multi-scale + random-crop augmentation (short side 480-800, max
# 1333; or 400/500/600 -> crop 384-600 -> 480-800), AdamW lr 2e-4, 16 images per iteration.
_base_ = [
    'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py',
    './_base_/mask_rcnn_tta.py',
]

custom_imports = dict(imports=['smt_mm'], allow_failed_imports=False)

# The official ImageNet-1K release file `smt_small.pth`
# (https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_small.pth), used as downloaded.
# Elsewhere: --cfg-options model.backbone.init_cfg.checkpoint=PATH
pretrained = 'checkpoints/smt_small.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='SMT',
        arch='small',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained),
    ),
    neck=dict(in_channels=[64, 128, 256, 512]),
)

# No weight decay on normalisation layers (LayerNorm, BatchNorm) nor on layer scales (SMT-L).
optim_wrapper = dict(
    optimizer=dict(lr=0.0002),
    paramwise_cfg=dict(
        _delete_=True, norm_decay_mult=0.0, custom_keys={'.gamma': dict(decay_mult=0.0)}
    ),
)

auto_scale_lr = dict(enable=False, base_batch_size=16)
