# Sparse R-CNN with SMT-B on COCO, 3x: as SMT-S with the SMT-B backbone; the official recipe keeps
# drop path 0.2 for this detector.
_base_ = './sparse_rcnn_smt_s_3x.py'

model = dict(backbone=dict(_base_.smt_b_backbone, drop_path_rate=0.2))
