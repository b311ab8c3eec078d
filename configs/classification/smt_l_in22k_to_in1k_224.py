# SMT-L fine-tuned on ImageNet-1k at 224x224 from the ImageNet-22k pre-training, the official
# recipe: 30 epochs, drop path 0.1, AdamW lr 1e-5 per 512 images; the rest as in smt_t_in1k_224.py.
_base_ = './smt_t_in1k_224.py'

# The official ImageNet-22k file `smt_large_22k.pth`
# (https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_large_22k.pth), loaded as
# downloaded, or an smt_l_in22k_224.py checkpoint with prefix='backbone.'. Elsewhere:
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
pretrained = 'checkpoints/smt_large_22k.pth'

model = dict(
    backbone=dict(
        arch='large',
        drop_path_rate=0.1,
        use_layerscale=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained),
    ),
    # The head starts afresh: the official fine-tune starts it from the rows of the 22k head
    # that its map22kto1k.txt selects.
    head=dict(in_channels=768),
)

optim_wrapper = dict(optimizer=dict(lr=1e-5 * 1024 / 512))
# The base schedule with this recipe's learning rates and length.
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=1e-8 / 1e-5),
    dict(_base_.param_scheduler[1], eta_min_ratio=1e-7 / 1e-5, end=30),
]
train_cfg = dict(max_epochs=30)
