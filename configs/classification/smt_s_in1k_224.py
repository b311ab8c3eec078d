# SMT-S on ImageNet-1k at 224x224: the recipe of smt_t_in1k_224.py with drop path 0.2.
# Official release file (evaluate it as downloaded with tools/test.py CONFIG smt_small.pth):
# https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_small.pth
_base_ = './smt_t_in1k_224.py'

model = dict(backbone=dict(arch='small', drop_path_rate=0.2))
