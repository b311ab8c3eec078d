# RetinaNet with Swin-T on COCO, 3x: the SMT-S config with mmdet's Swin-T backbone, which returns
# only the stages the FPN reads (an unused output norm would stall distributed training).
_base_ = ['./retinanet_smt_s_3x.py', './_base_/swin_t.py']

model = dict(
    backbone=dict(_base_.swin_t_backbone, out_indices=(1, 2, 3)),
    neck=dict(in_channels=_base_.swin_t_in_channels[1:], start_level=0),
)
optim_wrapper = dict(paramwise_cfg=_base_.swin_paramwise_cfg)
