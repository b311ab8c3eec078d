# mmdet's DINO 36-epoch schedule (`mmdet::dino/dino-4scale_r50_8xb2-36e_coco.py`: one decay at
# epoch 30), for the *_36e.py configs over their 12-epoch counterpart. dino_36e_* names: the
# bases of a config may not share a key, so each config applies these itself.
dino_36e_max_epochs = 36
dino_36e_train_cfg = dict(max_epochs=dino_36e_max_epochs)
dino_36e_param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=dino_36e_max_epochs,
        by_epoch=True,
        milestones=[30],
        gamma=0.1,
    )
]
