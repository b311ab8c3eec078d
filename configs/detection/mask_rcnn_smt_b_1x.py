# Mask R-CNN + FPN with an ImageNet-1K SMT-B backbone on COCO, 1x schedule: as SMT-S 1x
# (12 epochs, AdamW lr 2e-4, drop path 0.2, single-scale 1333x800, 16 images per iteration).
_base_ = './mask_rcnn_smt_s_1x.py'

# The official ImageNet-1K release file `smt_base.pth`
# (https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_base.pth), used as downloaded.
# Elsewhere: --cfg-options model.backbone.init_cfg.checkpoint=PATH
pretrained = 'checkpoints/smt_base.pth'

model = dict(
    backbone=dict(arch='base', init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
)
