# UPerNet with an ImageNet-1K Swin-B backbone on ADE20K, 160k iterations, 512x512 crops: mmseg's
# own config, the baseline of the SMT comparison, run and evaluated as the SMT configs.
_base_ = ['mmseg::swin/swin-base-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py']

custom_imports = dict(imports=['smt_mm'], allow_failed_imports=False)

# mmseg's IoUMetric that also fails, naming the file, on a label map with values outside the
# classes (plain IoUMetric silently leaves them out of the counts).
val_evaluator = dict(type='CheckedIoUMetric')
test_evaluator = val_evaluator
