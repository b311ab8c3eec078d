# The dataset of the COCO configs: mmdet's CocoDataset that counts the annotations it drops and
# logs the counts per reason (smt_mm's CheckedCocoDataset). Not strict: the real COCO files hold
# a few degenerate boxes, which mmdet drops by design (docs/troubleshooting.md).
checked_coco_dataset = dict(type='CheckedCocoDataset', strict_annotations=False)
