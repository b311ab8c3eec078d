"""Exact resume (issue 26): an interrupted and resumed run logs the losses of the uninterrupted one.

The end-to-end tests train the toy Mask R-CNN and the toy UPerNet with a depth-1 SMT on 8 toy
images through ``tools/train.py``: 6 iterations in one go, then 3 iterations, stopped, and
resumed with ``--resume`` to 6, all in this process (so the resumed run starts with the random
state the earlier runs left, not the one a fresh process has). Mask R-CNN keeps its toy config's
data-loader worker (augmentation in a worker process, replayed on resume); UPerNet loads in the
training process (``num_workers=0``: random resize, crop, flip and photometric distortion draw
from the generators the hook reseeds before each batch). Both models draw in the training
process too (RPN and RoI samplers, dropout). Without :class:`~smt_mm.engine.ExactResumeHook`
the resumed Mask R-CNN drifted from its first resumed iteration on (1e-5, then 1e-4 relative).
"""

import glob
import os.path as osp
import random

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from toy_runs import logged_losses

from smt_mm.demo import toy_data_options
from smt_mm.engine import ExactResumeHook
from smt_mm.engine.resume import (
    BATCH,
    ITERATION,
    derive_seed,
    inexact_resume_reasons,
    seed_everything,
)
from smt_mm.toydata import generate_ade20k, generate_coco

MAX_ITERS, STOP_AT = 6, 3
DEPTH_1 = (
    'dict(embed_dims=(16, 32, 48, 64), depths=(1, 1, 1, 1), mlp_ratios=(2, 2, 2, 2), head_conv=3)'
)
#: The toy config, its depth-1 model and its loader; the run checkpoints at STOP_AT.
CONFIG = """_base_ = [{base!r}]
model = dict(
    backbone=dict(_delete_=True, type='SMT', arch={arch}, out_indices=(0, 1, 2, 3), init_cfg=None),
    {heads})
train_dataloader = dict(batch_size=2, num_workers={workers}, persistent_workers={workers} > 0)
train_cfg = dict(max_iters={iters}, val_interval=1000)
val_cfg = None
val_dataloader = None
val_evaluator = None
randomness = dict(seed=0, deterministic=True)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval={stop}, max_keep_ckpts=3))
"""
TASKS = {
    'detection': dict(
        base='configs/detection/mask_rcnn_smt_t_toy.py',
        heads='neck=dict(in_channels=[16, 32, 48, 64])',
        workers=1,  # as the toy config: one persistent worker
    ),
    'segmentation': dict(
        base='configs/segmentation/upernet_smt_t_toy.py',
        heads='decode_head=dict(in_channels=[16, 32, 48, 64]), auxiliary_head=dict(in_channels=48)',
        workers=0,
    ),
}


def _train(load_tool, config, work_dir, options, *extra):
    """Train in this process, the run named after its work dir and start (its own log)."""
    name = f'{osp.basename(work_dir)}_{len(glob.glob(osp.join(str(work_dir), "*", "")))}'
    names = [f'experiment_name={name}', f'visualizer.name={name}']
    args = [str(config), '--work-dir', str(work_dir), *extra]
    load_tool('tools/train.py').main([*args, '--cfg-options', *options, *names])


@pytest.mark.slow
@pytest.mark.parametrize('task', sorted(TASKS))
def test_a_resumed_run_logs_the_losses_of_the_uninterrupted_one(task, load_tool, tmp_path):
    spec = TASKS[task]
    data_root = str(tmp_path / 'data')
    if task == 'detection':
        generate_coco(data_root, num_train=8, num_val=1)
        options = toy_data_options(data_root, 'annotations/instances_val2017.json')
    else:
        generate_ade20k(data_root, num_train=8, num_val=1)
        options = toy_data_options(data_root)
    cli = [f'{key}={value}' for key, value in options.items() if key.startswith('train')]
    config = tmp_path / 'toy_depth1.py'
    config.write_text(
        CONFIG.format(
            base=osp.join(REPO_ROOT, spec['base']),
            arch=DEPTH_1,
            heads=spec['heads'],
            workers=spec['workers'],
            iters=MAX_ITERS,
            stop=STOP_AT,
        )
    )

    _train(load_tool, config, tmp_path / 'whole', cli)
    whole = logged_losses(tmp_path / 'whole')
    assert sorted(whole) == list(range(1, MAX_ITERS + 1))

    _train(load_tool, config, tmp_path / 'stopped', [*cli, f'train_cfg.max_iters={STOP_AT}'])
    assert sorted(logged_losses(tmp_path / 'stopped')) == list(range(1, STOP_AT + 1))
    _train(load_tool, config, tmp_path / 'stopped', cli, '--resume')
    resumed = logged_losses(tmp_path / 'stopped')

    assert sorted(resumed) == sorted(whole)
    for step in range(STOP_AT + 1, MAX_ITERS + 1):
        assert resumed[step] == pytest.approx(whole[step], rel=1e-6, abs=0), step


class _Runner:
    """The attributes of mmengine's runner that the hook reads."""

    def __init__(self, seed, batches=None):
        self.seed, self.iter, self.epoch = seed, 0, 0
        self.train_loop = type('Loop', (), {})()
        if batches is not None:
            self.train_loop.dataloader_iterator = batches


def _draws():
    return (random.random(), float(np.random.rand()), float(torch.rand(())))


def test_the_hook_makes_every_generator_a_function_of_seed_and_iteration():
    hook, runner = ExactResumeHook(), _Runner(seed=7)
    runner.iter = 5
    hook.before_train_iter(runner, 0)
    first = _draws()
    _draws()  # what an interrupted run drew before: forgotten by the next reseed
    hook.before_train_iter(runner, 0)
    assert _draws() == first
    runner.iter = 6
    hook.before_train_iter(runner, 0)
    assert _draws() != first
    runner.seed, runner.iter = 8, 5
    hook.before_train_iter(runner, 0)
    assert _draws() != first


def test_the_hook_reseeds_before_each_batch_of_an_iteration_loop():
    def batches():
        while True:
            yield _draws()  # a transform that runs in the training process

    hook, runner = ExactResumeHook(), _Runner(seed=3, batches=batches())
    hook.before_train(runner)
    hook.before_train(runner)  # a second call does not wrap twice
    loop = runner.train_loop
    fetched = [next(loop.dataloader_iterator) for _ in range(3)]
    assert len(set(fetched)) == 3
    seed_everything(derive_seed(3, BATCH, 2))
    assert _draws() == fetched[2]
    assert derive_seed(3, BATCH, 2) != derive_seed(3, ITERATION, 2)
    assert 0 <= derive_seed(-1, ITERATION, 0) < 2**63


class _EpochLoop:
    """An epoch-based loop: a data loader, no ``dataloader_iterator``."""

    def __init__(self, persistent_workers, num_workers=1, batches=4):
        self.dataloader = type(
            'Loader',
            (),
            dict(persistent_workers=persistent_workers, num_workers=num_workers,
                 __len__=lambda self: batches),
        )()  # fmt: skip


def test_an_epoch_loop_names_what_keeps_its_resume_from_being_exact():
    assert inexact_resume_reasons(_EpochLoop(False), 8) == []  # at an epoch end, no persistence
    assert inexact_resume_reasons(_EpochLoop(True), 0) == []  # not resumed
    assert inexact_resume_reasons(_Runner(0, batches=iter([])).train_loop, 5) == []
    (inside,) = inexact_resume_reasons(_EpochLoop(False), 6)
    assert 'inside an epoch (iteration 6, 4 per epoch)' in inside
    (persistent,) = inexact_resume_reasons(_EpochLoop(True), 8)
    assert 'persistent_workers=False' in persistent
    assert inexact_resume_reasons(_EpochLoop(True, num_workers=0), 8) == []
