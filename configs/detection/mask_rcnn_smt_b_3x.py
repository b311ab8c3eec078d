# Mask R-CNN + FPN with an ImageNet-1K SMT-B backbone on COCO, 3x schedule: as SMT-S 3x
# (36 epochs, multi-scale + crop training, AdamW lr 2e-4) with drop path 0.3.
_base_ = './mask_rcnn_smt_s_3x.py'

pretrained = _base_.smt_b_backbone.init_cfg.checkpoint  # the official `smt_base.pth`

model = dict(backbone=_base_.smt_b_backbone)
