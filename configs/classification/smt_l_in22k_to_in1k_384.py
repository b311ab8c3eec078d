# SMT-L fine-tuned on ImageNet-1k at 384x384 from the ImageNet-22k pre-training: the recipe of
# smt_l_in22k_to_in1k_224.py at 384 px with lr 2e-5 per 512 images.
_base_ = './smt_l_in22k_to_in1k_224.py'

# The base (official timm) training pipeline, cropping 384 px.
train_pipeline = [
    _base_.train_pipeline[0],
    dict(_base_.train_pipeline[1], scale=384),
    *_base_.train_pipeline[2:],
]
# As in the official 384 config: the whole image resized to 384x384 (bicubic), no center crop.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=384, backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=2e-5 * 1024 / 512))
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=2e-8 / 2e-5),
    _base_.param_scheduler[1],  # eta_min_ratio 1e-7 / 1e-5 == 2e-7 / 2e-5
]
