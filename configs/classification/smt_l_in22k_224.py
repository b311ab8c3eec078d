# SMT-L pre-training on ImageNet-21k (21841 classes) at 224x224, the official recipe: 90 epochs,
# drop path 0.1, AdamW lr 1.25e-4 per 512 images (1e-3 for the official 4096 images per
# iteration; here 2.5e-4 for 8 GPUs x 128), 5 warm-up epochs from 1.25e-7 per 512 images, cosine
# decay to 1.25e-6 per 512 images; augmentation, loss, clipping and weight decay as in
# smt_t_in1k_224.py. Official pre-trained file (the backbone of the 22k->1k fine-tunes):
# https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_large_22k.pth
#
# Data: mmpretrain's ImageNet21k dataset, `data/imagenet21k/{train,val}/` with annotation lists
# `meta/train.txt`, `meta/val.txt` (lines `relative/path.JPEG label`, labels 0..21840).
_base_ = './smt_t_in1k_224.py'

num_classes = 21841

model = dict(
    backbone=dict(arch='large', drop_path_rate=0.1, use_layerscale=True),
    head=dict(num_classes=num_classes, in_channels=768),
)
data_preprocessor = dict(num_classes=num_classes)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ImageNet21k',
        data_root='data/imagenet21k',
        ann_file='meta/train.txt',
        data_prefix='train',
        pipeline=_base_.train_pipeline,
    )
)
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ImageNet21k',
        data_root='data/imagenet21k',
        ann_file='meta/val.txt',
        data_prefix='val',
        pipeline=_base_.test_pipeline,
    )
)
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=1.25e-4 * 1024 / 512))
# The base schedule with this recipe's learning rates and length.
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=1.25e-7 / 1.25e-4),
    dict(_base_.param_scheduler[1], eta_min_ratio=1.25e-6 / 1.25e-4, end=90),
]
train_cfg = dict(max_epochs=90)
