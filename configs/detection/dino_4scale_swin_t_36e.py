# DINO 4-scale with Swin-T (the twin of the SMT-S config) on COCO, 36 epochs: the 12-epoch config with mmdet's 36-epoch
# schedule (recipe reconstructed: see dino_4scale_smt_s_12e.py).
_base_ = ['./dino_4scale_swin_t_12e.py', './_base_/dino_36e.py']

train_cfg = _base_.dino_36e_train_cfg
param_scheduler = _base_.dino_36e_param_scheduler
