# Mask R-CNN + FPN with an ImageNet-1K SMT-B backbone on COCO, 3x schedule: as SMT-S 3x
# (36 epochs, multi-scale + crop training, AdamW lr 2e-4) with drop path 0.3.
_base_ = './mask_rcnn_smt_s_3x.py'

# The official ImageNet-1K release file `smt_base.pth`
# (https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_base.pth), used as downloaded.
# Elsewhere: --cfg-options model.backbone.init_cfg.checkpoint=PATH
pretrained = 'checkpoints/smt_base.pth'

model = dict(
    backbone=dict(
        arch='base', drop_path_rate=0.3, init_cfg=dict(type='Pretrained', checkpoint=pretrained)
    ),
)
