# The Swin-T twin of smt.py: the backbone and weight-decay exemptions of mmdet's Swin-T configs,
# applied by the *_swin_t_*.py configs over their SMT-S counterpart (same heads, schedule, data).
# mmdet's SwinTransformer defaults are Swin-T's (96 dims, depths 2-2-6-2, heads 3-6-12-24, window 7).
swin_t_backbone = dict(
    _delete_=True,
    type='SwinTransformer',
    drop_path_rate=0.2,
    convert_weights=True,
    init_cfg=dict(
        type='Pretrained',
        checkpoint='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/'
        'swin_tiny_patch4_window7_224.pth',
    ),
)
swin_t_in_channels = [96, 192, 384, 768]

swin_paramwise_cfg = dict(
    _delete_=True,
    custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.0),
        'relative_position_bias_table': dict(decay_mult=0.0),
        'norm': dict(decay_mult=0.0),
    },
)
