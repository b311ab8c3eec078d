# Cascade Mask R-CNN (4conv1fc heads, SyncBN, GIoU) with SMT-S on COCO, 3x multi-scale + crop:
# mmdet's ConvNeXt-T recipe with the SMT backbone and the official AdamW lr 1e-4 (no AMP, no LLRD).
_base_ = [
    'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py',
    './_base_/mask_rcnn_tta.py',
    './_base_/smt.py',
    './_base_/checked_coco.py',
]

custom_imports = dict(imports=['smt_mm'], allow_failed_imports=False)

model = _base_.smt_model
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=_base_.smt_optim_wrapper.paramwise_cfg,
)
train_dataloader = dict(dataset=_base_.checked_coco_dataset)
val_dataloader = dict(dataset=_base_.checked_coco_dataset)
test_dataloader = val_dataloader
