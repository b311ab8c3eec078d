# UPerNet with an ImageNet-1K SMT-B backbone on ADE20K, 160k iterations, 512x512 crops: the SMT-S
# recipe (upernet_smt_s_512x512_160k_ade20k.py) with drop path 0.3.
_base_ = ['./upernet_smt_s_512x512_160k_ade20k.py']

# The official ImageNet-1K release file `smt_base.pth`
# (https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_base.pth), used as downloaded.
# Elsewhere: --cfg-options model.backbone.init_cfg.checkpoint=PATH
pretrained = 'checkpoints/smt_base.pth'

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained),
    ),
)
