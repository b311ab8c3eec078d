# DINO 4-scale with SMT-B on COCO, 12 epochs: as SMT-S with the SMT-B backbone (drop path 0.3).
_base_ = './dino_4scale_smt_s_12e.py'

model = dict(backbone=_base_.smt_b_backbone)
