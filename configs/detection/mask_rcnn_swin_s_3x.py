# Mask R-CNN + FPN with Swin-S on COCO, 3x schedule with multi-scale + random-crop training:
# mmdet's own config, run by the same tools as the SMT configs.
_base_ = [
    'mmdet::swin/mask-rcnn_swin-s-p4-w7_fpn_amp-ms-crop-3x_coco.py',
    './_base_/mask_rcnn_tta.py',
    './_base_/checked_coco.py',
]

# smt_mm provides the mask-aware TTA model, safe checkpoint loading and the checked dataset.
custom_imports = dict(imports=['smt_mm'], allow_failed_imports=False)

# mmdet trained it with mixed precision; here, as for every config, AMP is the `--amp` switch
# of tools/train.py (so that the config also runs without a GPU).
optim_wrapper = dict(type='OptimWrapper')

train_dataloader = dict(dataset=_base_.checked_coco_dataset)
val_dataloader = dict(dataset=_base_.checked_coco_dataset)
test_dataloader = val_dataloader
