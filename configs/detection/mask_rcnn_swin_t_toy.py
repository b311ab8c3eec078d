# Swin-T twin of mask_rcnn_smt_t_toy.py (same heads, data and schedule, from scratch): the Swin side
# of the effective-receptive-field comparison (tools/analysis/receptive_field.py) on the toy shapes.
_base_ = ['./mask_rcnn_smt_t_toy.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',  # mmdet's, as in mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py
        embed_dims=96,
        depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24],
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.0,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        init_cfg=None,
    ),
    neck=dict(in_channels=[96, 192, 384, 768]),
)
