# Cascade Mask R-CNN with Swin-T on COCO, 3x: the SMT-S config with mmdet's Swin-T backbone.
_base_ = ['./cascade_mask_rcnn_smt_s_3x.py', './_base_/swin_t.py']

model = dict(backbone=_base_.swin_t_backbone, neck=dict(in_channels=_base_.swin_t_in_channels))
optim_wrapper = dict(paramwise_cfg=_base_.swin_paramwise_cfg)
