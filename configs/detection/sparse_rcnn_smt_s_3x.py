# Sparse R-CNN (300 proposals) with SMT-S on COCO, 3x multi-scale + crop: mmdet's recipe (AdamW
# lr 2.5e-5, weight decay 1e-4, gradient clip 1) with the SMT backbone.
_base_ = [
    'mmdet::sparse_rcnn/sparse-rcnn_r50_fpn_300-proposals_crop-ms-480-800-3x_coco.py',
    './_base_/smt.py',
    './_base_/checked_coco.py',
]

custom_imports = dict(imports=['smt_mm'], allow_failed_imports=False)

model = _base_.smt_model
train_dataloader = dict(dataset=_base_.checked_coco_dataset)
val_dataloader = dict(dataset=_base_.checked_coco_dataset)
test_dataloader = val_dataloader
