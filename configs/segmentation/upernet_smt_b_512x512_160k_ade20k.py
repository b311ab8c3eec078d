# UPerNet with an ImageNet-1K SMT-B backbone on ADE20K, 160k iterations, 512x512 crops: the SMT-S
# recipe (upernet_smt_s_512x512_160k_ade20k.py) with drop path 0.3.
_base_ = ['./upernet_smt_s_512x512_160k_ade20k.py']

pretrained = _base_.smt_b_backbone.init_cfg.checkpoint  # the official `smt_base.pth`
model = dict(backbone=_base_.smt_b_backbone)
