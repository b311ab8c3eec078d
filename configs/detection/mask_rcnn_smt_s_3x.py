# Mask R-CNN + FPN with an ImageNet-1K SMT-S backbone on COCO, 3x schedule: mmdet's Swin-T 3x
# recipe (36 epochs, multi-scale + crop training) with the SMT backbone and AdamW lr 2e-4.
_base_ = [
    'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py',
    './_base_/mask_rcnn_tta.py',
    './_base_/smt.py',
    './_base_/checked_coco.py',
]

custom_imports = dict(imports=['smt_mm'], allow_failed_imports=False)

pretrained = _base_.smt_model.backbone.init_cfg.checkpoint
model = _base_.smt_model
optim_wrapper = _base_.smt_optim_wrapper
train_dataloader = dict(dataset=_base_.checked_coco_dataset)
val_dataloader = dict(dataset=_base_.checked_coco_dataset)
test_dataloader = val_dataloader
