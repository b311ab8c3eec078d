# DINO 4-scale with Swin-T on COCO, 12 epochs: the SMT-S config with mmdet's Swin-T backbone
# (detrex's DINO Swin-T 4-scale recipe).
_base_ = ['./dino_4scale_smt_s_12e.py', './_base_/swin_t.py']

model = dict(
    backbone=dict(_base_.swin_t_backbone, out_indices=(1, 2, 3)),
    neck=dict(in_channels=_base_.swin_t_in_channels[1:]),
)
