# Mask R-CNN + FPN with an ImageNet-1K SMT-B backbone on COCO, 1x schedule: as SMT-S 1x
# (12 epochs, AdamW lr 2e-4, drop path 0.2, single-scale 1333x800, 16 images per iteration).
_base_ = './mask_rcnn_smt_s_1x.py'

pretrained = _base_.smt_b_backbone.init_cfg.checkpoint  # the official `smt_base.pth`

model = dict(backbone=dict(_base_.smt_b_backbone, drop_path_rate=0.2))
