# UPerNet with an ImageNet-1K SMT-S backbone on ADE20K, 160k iterations, 512x512 crops: mmseg's
# Swin-T UPerNet recipe (the one the SMT paper follows) with the SMT backbone, drop path 0.2.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',
    '../_base_/smt.py',
]

custom_imports = dict(imports=['smt_mm'], allow_failed_imports=False)

pretrained = _base_.smt_s_backbone.init_cfg.checkpoint  # the official `smt_small.pth`
model = dict(
    backbone=_base_.smt_s_backbone,
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256),
)

# AdamW as inherited; no weight decay on any normalisation layer (LayerNorm, BatchNorm).
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True, norm_decay_mult=0.0))

# mmseg's IoUMetric that also fails, naming the file, on a label map with values outside the
# classes (plain IoUMetric silently leaves them out of the counts).
val_evaluator = dict(type='CheckedIoUMetric')
test_evaluator = val_evaluator
