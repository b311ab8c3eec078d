# UPerNet with an ImageNet-1K SMT-S backbone on ADE20K, 160k iterations, 512x512 crops: mmseg's
# Swin-T UPerNet recipe (the one the SMT paper follows) with the SMT backbone, drop path 0.2.
_base_ = ['mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py']

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
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256),
)

# AdamW as inherited; no weight decay on any normalisation layer (LayerNorm, BatchNorm).
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True, norm_decay_mult=0.0))

# mmseg's IoUMetric that also fails, naming the file, on a label map with values outside the
# classes (plain IoUMetric silently leaves them out of the counts).
val_evaluator = dict(type='CheckedIoUMetric')
test_evaluator = val_evaluator
