# SMT-L pre-training on ImageNet-21k (21841 classes) at 224x224, the official recipe: 90 epochs,
# drop path 0.1, AdamW lr 1.25e-4 per 512 images; the rest as in smt_t_in1k_224.py.
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
        train_dataloader['dataset'],
        ann_file='meta/val.txt',
        data_prefix='val',
        pipeline=_base_.test_pipeline,
    )
)
test_dataloader = val_dataloader

# The official 1e-3 for 4096 images per iteration is 1.25e-4 per 512 images.
optim_wrapper = dict(optimizer=dict(lr=1.25e-4 * 1024 / 512))
# The base schedule with this recipe's learning rates and length.
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=1.25e-7 / 1.25e-4),
    dict(_base_.param_scheduler[1], eta_min_ratio=1.25e-6 / 1.25e-4, end=90),
]
train_cfg = dict(max_epochs=90)
