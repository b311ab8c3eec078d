# The SMT settings every detection config applies over mmdet's files: the SMT-S backbone and FPN
# widths, SMT-B's backbone, and the weight-decay exemptions of the AdamW recipes.
# smt_* names: the bases of a config may not share a key, so the configs apply these over
# mmdet's file themselves (`model = _base_.smt_model`, `optim_wrapper = _base_.smt_optim_wrapper`).
smt_model = dict(
    backbone=dict(
        _delete_=True,
        type='SMT',
        arch='small',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        # The official ImageNet-1K release file `smt_small.pth`
        # (https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_small.pth), used as
        # downloaded. Elsewhere: --cfg-options model.backbone.init_cfg.checkpoint=PATH
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/smt_small.pth'),
    ),
    neck=dict(in_channels=[64, 128, 256, 512]),
)

# SMT-B over smt_model's backbone, with the official drop path of the 3x recipes.
smt_b_backbone = dict(
    arch='base',
    drop_path_rate=0.3,
    # The official release file `smt_base.pth`
    # (https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_base.pth), used as downloaded.
    init_cfg=dict(type='Pretrained', checkpoint='checkpoints/smt_base.pth'),
)

# No weight decay on normalisation layers (LayerNorm, BatchNorm) nor on layer scales (SMT-L).
smt_optim_wrapper = dict(
    optimizer=dict(lr=0.0002),
    paramwise_cfg=dict(
        _delete_=True, norm_decay_mult=0.0, custom_keys={'.gamma': dict(decay_mult=0.0)}
    ),
)
