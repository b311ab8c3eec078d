# SMT-S on ImageNet-1k at 224x224: the recipe of smt_t_in1k_224.py with drop path 0.2.
_base_ = './smt_t_in1k_224.py'

model = dict(backbone=dict(arch='small', drop_path_rate=0.2))
