"""Checkpoints and model arguments refused with the real cause (issue 26, items 3 and 4).

A resumed checkpoint of another model is refused with its keys before the optimizer state is
loaded; NaN / infinite weights and an optimizer-only file are named as such when loaded; SMT
arguments out of range fail when the backbone is built.
"""

import os
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.runner import CheckpointLoader, load_checkpoint

from smt_mm.apis.command_line import USER_ERRORS
from smt_mm.models.backbones.smt import SMT
from smt_mm.models.checkpoint import InvalidCheckpointError, load_model_checkpoint
from smt_mm.toydata import generate_coco

DET_TOY = osp.join(REPO_ROOT, 'configs', 'detection', 'mask_rcnn_smt_t_toy.py')


def _save(path, checkpoint):
    torch.save(checkpoint, path)
    return str(path)


def test_nan_and_inf_weights_are_named_when_loaded(tmp_path):
    weights = {'a.weight': torch.ones(2), 'b.weight': torch.ones(3), 'steps': torch.tensor(3)}
    weights['b.weight'][1] = float('nan')
    weights['c.bias'] = torch.tensor([float('-inf')])
    path = _save(tmp_path / 'diverged.pth', {'state_dict': weights, 'meta': {}})
    with pytest.raises(InvalidCheckpointError) as err:
        CheckpointLoader.load_checkpoint(path)  # every mmengine load of a local file
    assert err.value.kind == 'non-finite'
    assert str(err.value).startswith(
        f'Cannot load checkpoint {path}: 2 of its 4 weight tensors hold NaN or infinite values '
        '(first: b.weight, c.bias). The training run that saved it diverged'
    )
    model = torch.nn.Linear(2, 2)
    for load in (load_model_checkpoint, load_checkpoint):  # smt_mm's and mmengine's loaders
        with pytest.raises(InvalidCheckpointError, match='NaN or infinite'):
            load(model, path)
    assert InvalidCheckpointError in USER_ERRORS  # tools print "error: ..." without traceback


def test_optimizer_only_file_holds_no_model_weights(tmp_path):
    optimizer = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)
    path = _save(tmp_path / 'optim.pth', {'optimizer': optimizer.state_dict(), 'meta': {}})
    with pytest.raises(InvalidCheckpointError) as err:
        CheckpointLoader.load_checkpoint(path)
    assert err.value.kind == 'no-weights'
    assert f'{path}: it holds no model weights (keys: optimizer, meta)' in str(err.value)


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        (dict(drop_path_rate=1.5), r'drop_path_rate must be in \[0, 1\), got 1.5'),
        (dict(drop_path_rate=-0.1), r'drop_path_rate must be in \[0, 1\), got -0.1'),
        (dict(drop_path_rate=float('nan')), 'drop_path_rate must be in'),
        (dict(in_channels=0), r'in_channels must be in \[1, inf\), got 0'),
        (
            dict(use_layerscale=True, layer_scale_init_value=0.0),
            r'layer_scale_init_value must be in \(0, inf\), got 0.0',
        ),
        (
            dict(arch=dict(SMT.arch_zoo['tiny'], embed_dims=(64, 0, 256, 512))),
            r"arch\['embed_dims'\] must be in \[1, inf\), got \(64, 0, 256, 512\)",
        ),
        (
            dict(arch=dict(SMT.arch_zoo['tiny'], mlp_ratios=(4, 4, -1, 2))),
            r"arch\['mlp_ratios'\] must be in \(0, inf\)",
        ),
        (dict(arch=dict(SMT.arch_zoo['tiny'], ca_num_heads=0)), r"arch\['ca_num_heads'\]"),
        (dict(arch=dict(SMT.arch_zoo['tiny'], expand_ratio=0)), r"arch\['expand_ratio'\]"),
    ],
)
def test_smt_arguments_out_of_range_fail_at_build_time(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SMT(**kwargs)


def test_layer_scale_value_is_only_checked_when_used():
    SMT('tiny', use_layerscale=False, layer_scale_init_value=0.0, drop_path_rate=0.99)


@pytest.mark.slow
def test_resume_from_another_model_is_refused_before_the_optimizer(tmp_path, load_tool):
    """The one real run of this file: the toy detector resumed from an SMT-S backbone's file.

    mmengine would log the mismatched keys and then fail loading the AdamW state.
    """
    root = tmp_path / 'toy_coco'
    generate_coco(str(root), num_train=1, num_val=1)
    small = SMT('small')
    state = {'backbone.' + k: v for k, v in small.state_dict().items()}
    optimizer = torch.optim.AdamW(small.parameters())  # other parameter groups than the model's
    other = _save(
        tmp_path / 'other.pth',
        {
            'state_dict': state,
            'optimizer': optimizer.state_dict(),
            'meta': {'epoch': 0, 'iter': 4},
            'message_hub': {'log_scalars': {}, 'runtime_info': {}, 'resumed_keys': {}},
        },
    )
    options = [f'{split}_dataloader.dataset.data_root={root}/' for split in ('train', 'val')]
    options += [f'{split}_dataloader.num_workers=0' for split in ('train', 'val')]
    options += [f'{split}_dataloader.persistent_workers=False' for split in ('train', 'val')]
    options += [f'val_evaluator.ann_file={root}/annotations/instances_val2017.json']
    work_dir = tmp_path / 'work'
    argv = [DET_TOY, '--work-dir', str(work_dir), '--resume', other, '--cfg-options', *options]
    with pytest.raises(SystemExit) as exc:
        load_tool('tools/train.py').main(argv)
    message = str(exc.value.code)
    assert message.startswith(f'error: The checkpoint {other} does not fit the model:')
    assert '--resume continues a run of this same model' in message
    assert "missing keys: ['neck." in message
    assert "'backbone.stages.0.2." in message  # unexpected: SMT-S has 3 blocks in stage 1
    assert not [f for f in os.listdir(work_dir) if f.endswith('.pth')]
