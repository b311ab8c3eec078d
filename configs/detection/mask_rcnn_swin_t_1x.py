# Mask R-CNN + FPN with Swin-T on COCO, 1x schedule: mmdet's own config, run by the same tools as
# the SMT configs. ImageNet weights are downloaded from the Swin release by mmengine.
_base_ = [
    'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py',
    './_base_/mask_rcnn_tta.py',
    './_base_/checked_coco.py',
]

# smt_mm provides the mask-aware TTA model, safe checkpoint loading and the checked dataset.
custom_imports = dict(imports=['smt_mm'], allow_failed_imports=False)

train_dataloader = dict(dataset=_base_.checked_coco_dataset)
val_dataloader = dict(dataset=_base_.checked_coco_dataset)
test_dataloader = val_dataloader
