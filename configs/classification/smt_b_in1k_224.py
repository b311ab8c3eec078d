# SMT-B on ImageNet-1k at 224x224: the recipe of smt_t_in1k_224.py with drop path 0.3.
# Official release file (evaluate it as downloaded with tools/test.py CONFIG smt_base.pth):
# https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_base.pth
_base_ = './smt_t_in1k_224.py'

model = dict(backbone=dict(arch='base', drop_path_rate=0.3))
