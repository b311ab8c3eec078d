"""Exact resume: a resumed run draws the random numbers the uninterrupted run would have drawn.

mmengine 0.10's ``Runner.resume`` restores the weights, the optimizer, the schedulers, the
iteration and the seed, and ``IterBasedTrainLoop`` replays the data loader up to the resumed
iteration, so the batches and the augmentations of the data-loader workers (seeded from the seed
and the worker id, then advanced by the replayed batches) come out the same. What it does not
restore is the random state of the training process: Python's ``random``, numpy's global
generator and torch's CPU and CUDA generators continue from the seeding at start-up instead of
from where the interrupted run left them. Mask R-CNN's RPN and RoI samplers (``torch.randperm``),
drop path, dropout and every transform that runs in the training process (``num_workers=0``) draw
from them, so a resumed detector drifted from the uninterrupted run from the first iteration on.

:class:`ExactResumeHook` makes those states a function of the run's seed and its position
instead of its history: before each iteration, before each epoch and before each batch is
fetched, every generator of the process is seeded from ``(seed, what, counter)``. A resumed run
passes the same points with the same counters, so it draws the same numbers, whatever happened
in between (validation, a restart). Nothing is stored in the checkpoint: the seed is already
there (``meta.seed``). See docs/train_test.md ("Exact resume") for what stays out of reach.
"""

import logging
import random
from collections.abc import Callable, Iterator

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

#: What a seed is derived for: the points of a run where every generator is seeded again.
EPOCH, BATCH, ITERATION = 0, 1, 2


def derive_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed that depends on ``seed`` and ``keys`` and differs for neighbouring keys.

    Args:
        seed (int): The run's seed (any integer; negative ones are taken modulo 2**64).
        *keys (int): Non-negative integers, e.g. ``(ITERATION, 41)``.

    Returns:
        int: A seed for :func:`seed_everything`.
    """
    words = np.random.SeedSequence([seed % 2**64, *keys]).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CPU and every CUDA device).

    Args:
        seed (int): A non-negative seed (numpy takes it modulo 2**32).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device (lazily when CUDA is not started)


def inexact_resume_reasons(loop: object, done_iters: int) -> list[str]:
    """Why resuming an epoch-based loop after ``done_iters`` iterations cannot be exact.

    Iteration-based loops (those with a ``dataloader_iterator``) and fresh runs have none.

    Args:
        loop (object): The runner's training loop (its ``dataloader``).
        done_iters (int): The iterations the resumed checkpoint had done.

    Returns:
        list[str]: One sentence per reason, empty when the resume is exact.
    """
    loader = getattr(loop, 'dataloader', None)
    if done_iters == 0 or hasattr(loop, 'dataloader_iterator') or loader is None:
        return []
    reasons = []
    if len(loader) and done_iters % len(loader):
        reasons.append(
            f'the checkpoint was saved inside an epoch (iteration {done_iters}, '
            f'{len(loader)} per epoch): mmengine restarts the epoch from its first batch, '
            'which is trained again; save epoch-based runs at epoch ends'
        )
    if getattr(loader, 'persistent_workers', False) and getattr(loader, 'num_workers', 0):
        reasons.append(
            'persistent data-loader workers keep their random state from epoch to epoch, '
            'but resumed ones start afresh: the augmentations differ from an uninterrupted '
            'run; set train_dataloader.persistent_workers=False for an exact resume'
        )
    return reasons


class _SeededBatches:
    """An iterator over the training batches that reseeds the process before each fetch."""

    def __init__(self, batches: Iterator, reseed: Callable[[int], None]) -> None:
        self.batches = batches
        self.reseed = reseed
        self.fetched = 0

    def __iter__(self) -> '_SeededBatches':
        return self

    def __next__(self) -> object:
        self.reseed(self.fetched)
        self.fetched += 1
        return next(self.batches)


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Seed every random generator of the training process from the seed and the position.

    Before each training iteration (counter: ``runner.iter``, the iterations done), each epoch
    (``runner.epoch``) and, in an iteration-based loop, each batch fetched from the data loader
    (the batches fetched so far, replayed ones included), Python's ``random``, numpy's global
    generator and torch's generators are seeded from :func:`derive_seed` of ``runner.seed``.
    ``train_model`` adds it to every training run.

    The random numbers differ from those of a run without the hook (equally random, but the
    same seed no longer reproduces a run made before the hook was added).
    """

    priority = 'VERY_HIGH'  # before any hook that draws a random number

    def before_train(self, runner: object) -> None:
        """Reseed before each batch of an iteration-based loop (``dataloader_iterator``).

        A resumed epoch-based run also logs a warning for each :func:`inexact_resume_reasons`.
        """
        loop = runner.train_loop  # type: ignore[attr-defined]
        for reason in inexact_resume_reasons(loop, runner.iter):  # type: ignore[attr-defined]
            print_log(f'resume not exact: {reason}', logger='current', level=logging.WARNING)
        batches = getattr(loop, 'dataloader_iterator', None)
        if batches is not None and not isinstance(batches, _SeededBatches):
            loop.dataloader_iterator = _SeededBatches(
                batches, lambda fetched: self._reseed(runner, BATCH, fetched)
            )

    def before_train_epoch(self, runner: object) -> None:
        """Reseed before the epoch (its first batch is fetched after this hook)."""
        self._reseed(runner, EPOCH, runner.epoch)  # type: ignore[attr-defined]

    def before_train_iter(self, runner: object, batch_idx: int, data_batch: object = None) -> None:
        """Reseed before the forward and backward pass of an iteration."""
        self._reseed(runner, ITERATION, runner.iter)  # type: ignore[attr-defined]

    @staticmethod
    def _reseed(runner: object, what: int, counter: int) -> None:
        seed_everything(derive_seed(runner.seed, what, counter))  # type: ignore[attr-defined]
