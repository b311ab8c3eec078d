# ATSS with SMT-B on COCO, 3x: as SMT-S with the SMT-B backbone (drop path 0.3).
_base_ = './atss_smt_s_3x.py'

model = dict(backbone=_base_.smt_b_backbone)
