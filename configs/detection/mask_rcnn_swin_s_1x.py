# Mask R-CNN + FPN with Swin-S on COCO, 1x schedule: Swin-T 1x with Swin-S depths and weights
# (mmdet ships Swin-S only with the 3x schedule).
_base_ = './mask_rcnn_swin_t_1x.py'

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_small_patch4_window7_224.pth'

model = dict(
    backbone=dict(depths=[2, 2, 18, 2], init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
)
