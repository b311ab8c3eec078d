# SMT-L on ImageNet-1k at 224x224: the recipe of smt_t_in1k_224.py with drop path 0.4 and layer
# scale (as in every official SMT-L config).
_base_ = './smt_t_in1k_224.py'

model = dict(
    backbone=dict(arch='large', drop_path_rate=0.4, use_layerscale=True),
    head=dict(in_channels=768),
)
