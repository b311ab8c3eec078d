# The SMT backbones the shipped configs apply over the toolboxes' files, one place for every task.
# smt_* names: the bases of a config may not share a key, so a config applies these over its
# toolbox's file itself (e.g. `model = dict(backbone=_base_.smt_s_backbone)`).

# SMT-S, ImageNet-1K pretrained, the drop path of the paper's dense-prediction recipes.
smt_s_backbone = dict(
    _delete_=True,
    type='SMT',
    arch='small',
    drop_path_rate=0.2,
    out_indices=(0, 1, 2, 3),
    # The official ImageNet-1K release file `smt_small.pth`
    # (https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_small.pth), used as
    # downloaded. Elsewhere: --cfg-options model.backbone.init_cfg.checkpoint=PATH
    init_cfg=dict(type='Pretrained', checkpoint='checkpoints/smt_small.pth'),
)

# SMT-B over smt_s_backbone, with the official drop path of the 3x / 160k recipes.
smt_b_backbone = dict(
    arch='base',
    drop_path_rate=0.3,
    # The official release file `smt_base.pth`
    # (https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_base.pth), used as downloaded.
    init_cfg=dict(type='Pretrained', checkpoint='checkpoints/smt_base.pth'),
)

# SMT-T from scratch for the CPU-sized toy recipes: the toy shapes need no ImageNet features.
smt_toy_backbone = dict(smt_s_backbone, arch='tiny', drop_path_rate=0.0, init_cfg=None)
