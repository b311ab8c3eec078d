# ATSS with SMT-S on COCO, 3x multi-scale + crop: mmdet's ATSS with the SMT backbone (its four
# outputs into an FPN from C3, extra convs on the output) and AdamW lr 1e-4.
_base_ = [
    'mmdet::atss/atss_r50_fpn_1x_coco.py',
    './_base_/ms_crop_3x.py',
    './_base_/smt.py',
    './_base_/checked_coco.py',
]

custom_imports = dict(imports=['smt_mm'], allow_failed_imports=False)

model = _base_.smt_model
train_dataloader = dict(
    dataset=dict(_base_.checked_coco_dataset, pipeline=_base_.ms_crop_train_pipeline)
)
val_dataloader = dict(dataset=_base_.checked_coco_dataset)
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=_base_.ms_crop_max_epochs)
param_scheduler = _base_.ms_crop_param_scheduler
optim_wrapper = dict(
    optimizer=_base_.ms_crop_optimizer, paramwise_cfg=_base_.smt_optim_wrapper.paramwise_cfg
)
