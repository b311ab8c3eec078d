# DINO 4-scale with SMT-S on COCO, 12 epochs. Recipe reconstructed (no official config): mmdet's
# DINO-4scale R-50 recipe, as detrex trains Swin-T, with the SMT backbone's last three stages.
_base_ = [
    'mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py',
    './_base_/smt.py',
    './_base_/checked_coco.py',
]

custom_imports = dict(imports=['smt_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(_base_.smt_model.backbone, out_indices=(1, 2, 3)),
    neck=dict(in_channels=_base_.smt_model.neck.in_channels[1:]),
)
train_dataloader = dict(dataset=_base_.checked_coco_dataset)
val_dataloader = dict(dataset=_base_.checked_coco_dataset)
test_dataloader = val_dataloader
