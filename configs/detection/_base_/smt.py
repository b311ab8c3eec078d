# The SMT settings every detection config applies over mmdet's files: the SMT-S backbone and FPN
# widths (SMT-B's backbone comes with the shared base), and the weight-decay exemptions of the
# AdamW recipes. A config applies them itself (`model = _base_.smt_model`,
# `optim_wrapper = _base_.smt_optim_wrapper`), as the bases of a config may not share a key.
_base_ = ['../../_base_/smt.py']

smt_model = dict(backbone=_base_.smt_s_backbone, neck=dict(in_channels=[64, 128, 256, 512]))

# No weight decay on normalisation layers (LayerNorm, BatchNorm) nor on layer scales (SMT-L).
smt_optim_wrapper = dict(
    optimizer=dict(lr=0.0002),
    paramwise_cfg=dict(
        _delete_=True, norm_decay_mult=0.0, custom_keys={'.gamma': dict(decay_mult=0.0)}
    ),
)
