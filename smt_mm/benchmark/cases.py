"""What a benchmark measures: SMT and Swin backbones, alone or inside a detector or segmentor."""

import copy
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from mmengine.registry import DefaultScope

from ..analysis.complexity import counting_config, model_complexity
from ..apis import build_model
from ..config import load_config
from ..models.backbones.smt import SMT
from ..utils.compat import grad_scaler

_SMT_SIZES = [arch for arch in SMT.arch_zoo if len(arch) == 1]
_SWIN = dict(type='SwinTransformer', window_size=7, mlp_ratio=4, qkv_bias=True, drop_path_rate=0.2)
_SWIN_ARCHS = {
    't': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
    's': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
    'b': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
}

#: Backbones by name: every size of ``SMT.arch_zoo`` (``'smt-t'`` ...: the device's default
#: path), the same with ``fused=True`` / ``False`` (``'smt-t-fused'`` / ``'smt-t-plain'``),
#: mmdet's own ``SwinTransformer`` with the official Swin-T/S/B settings (``'swin-t'`` ...)
#: and mmpretrain's (``'swin-t-mmpretrain'`` ...: for machines whose mmcv has no compiled ops,
#: which mmdet's model package needs). All get the stochastic depth of the Mask R-CNN recipes.
BACKBONES: dict[str, dict[str, Any]] = {
    **{f'smt-{a}': dict(type='SMT', arch=a, drop_path_rate=0.2) for a in _SMT_SIZES},
    **{
        f'smt-{a}-{path}': dict(type='SMT', arch=a, drop_path_rate=0.2, fused=path == 'fused')
        for a in _SMT_SIZES
        for path in ('fused', 'plain')
    },
    **{f'swin-{a}': dict(_SWIN, **arch) for a, arch in _SWIN_ARCHS.items()},
    **{
        f'swin-{a}-mmpretrain': dict(
            type='mmpretrain.SwinTransformer',
            arch=arch,
            window_size=7,
            pad_small_map=True,  # pad maps to whole windows, as mmdet's Swin does
            drop_path_rate=0.2,
            out_indices=(0, 1, 2, 3),
        )
        for a, arch in _SWIN_ARCHS.items()
    },
}

#: ``(model, baseline)`` pairs of similar size whose ratios are reported.
DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (('smt-s', 'swin-t'), ('smt-b', 'swin-s'))

#: Fused against plain SMT: always compared when both are measured.
PLAIN_PAIRS = tuple((f'smt-{a}-fused', f'smt-{a}-plain') for a in _SMT_SIZES)

#: ``(height, width, batch)`` of the default run: classification and detection resolution.
DEFAULT_SIZES: tuple[tuple[int, int, int], ...] = ((224, 224, 16), (800, 1344, 1))


def out_channels(backbone: str) -> tuple[int, ...]:
    """Return the channels of a backbone's four stages (from ``SMT.arch_zoo`` for SMT)."""
    cfg = BACKBONES[backbone]
    if cfg['type'] != 'SMT':
        dims = cfg['arch']['embed_dims'] if 'arch' in cfg else cfg['embed_dims']
        return tuple(dims * 2**i for i in range(4))
    arch: dict[str, Any] = (
        cfg['arch'] if isinstance(cfg['arch'], dict) else SMT.arch_zoo[cfg['arch']]
    )
    return tuple(arch['embed_dims'])


def backbone_name(backbone_cfg: dict[str, Any]) -> str:
    """Name a config's SMT backbone: ``'smt-b'``, ``'smt-b-fused'`` or ``'smt-b-plain'``."""
    arch = str(backbone_cfg.get('arch', 'tiny')).lower()
    if backbone_cfg.get('type') != 'SMT' or arch not in SMT.arch_zoo:
        raise ValueError(f'cannot name the backbone {backbone_cfg.get("type")!r} of a config')
    path = {True: '-fused', False: '-plain'}.get(backbone_cfg.get('fused', 'auto'), '')
    return f'smt-{arch[0]}{path}'


@dataclass
class BenchmarkCase:
    """One measured model: a ``backbone`` (key of :data:`BACKBONES`) at one input size.

    With a detection or segmentation ``config``, the full model is built from it with its
    backbone replaced by ``backbone`` (neck and heads re-wired to the new channels).
    """

    backbone: str
    height: int
    width: int
    batch: int
    config: str | None = None

    @property
    def model(self) -> str:
        """str: ``'backbone'`` or the config's file stem."""
        return 'backbone' if self.config is None else Path(self.config).stem

    @property
    def name(self) -> str:
        """str: A unique, human-readable label of the case."""
        return f'{self.model}/{self.backbone} {self.height}x{self.width} b{self.batch}'


def make_cases(
    models: Sequence[str] = ('smt-s', 'swin-t', 'smt-b', 'swin-s'),
    configs: Sequence[str] = (),
    sizes: Sequence[tuple[int, int, int]] = DEFAULT_SIZES,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
) -> list[BenchmarkCase]:
    """List the cases of a run, sizes outermost.

    Args:
        models (Sequence[str]): Backbone-only cases, keys of :data:`BACKBONES`.
            Defaults to ``('smt-s', 'swin-t', 'smt-b', 'swin-s')``.
        configs (Sequence[str]): Full-model configs with an SMT backbone, each measured as is
            and with every baseline ``pairs`` gives its backbone. Defaults to ``()``.
        sizes (Sequence[tuple[int, int, int]]): ``(height, width, batch)`` of every case.
            Defaults to :data:`DEFAULT_SIZES`.
        pairs (Sequence[tuple[str, str]]): ``(model, baseline)`` pairs.
            Defaults to :data:`DEFAULT_PAIRS`.

    Returns:
        list[BenchmarkCase]: The cases.
    """
    unknown = [name for name in models if name not in BACKBONES]
    if unknown:
        raise KeyError(f'unknown backbones {unknown}; choose from {sorted(BACKBONES)}')
    full = []
    for config in configs:
        smt = backbone_name(load_config(config).model.backbone)
        full += [(config, name) for name in (smt, *(b for a, b in pairs if a == smt))]
    return [
        BenchmarkCase(name, height, width, batch, config)
        for height, width, batch in sizes
        for config, name in [(None, name) for name in models] + full
    ]


def _swap_backbone(model_cfg: Any, backbone: str) -> None:
    """Replace a model config's backbone and re-wire the input channels of neck and heads."""
    spec = copy.deepcopy(BACKBONES[backbone])
    spec['out_indices'] = tuple(model_cfg.backbone.get('out_indices', (0, 1, 2, 3)))
    model_cfg.backbone = spec
    used = [out_channels(backbone)[i] for i in spec['out_indices']]
    if 'in_channels' in (model_cfg.get('neck') or {}):
        model_cfg.neck.in_channels = used
    for key in ('decode_head', 'auxiliary_head'):
        heads = model_cfg.get(key)
        for head in heads if isinstance(heads, list) else [heads]:
            if isinstance(head, dict) and 'in_channels' in head:
                index = head.get('in_index', -1)
                head['in_channels'] = (
                    used[index] if isinstance(index, int) else [used[i] for i in index]
                )


def _seg_inputs(case: BenchmarkCase, num_classes: int) -> dict[str, list[Any]]:
    """Random images and label maps in the format of mmseg's ``PackSegInputs``."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    generator = torch.Generator().manual_seed(0)
    shape = (case.height, case.width)
    inputs, samples = [], []
    for _ in range(case.batch):
        inputs.append(torch.randint(0, 256, (3, *shape), dtype=torch.uint8, generator=generator))
        labels = torch.randint(0, num_classes, (1, *shape), generator=generator)
        sample = SegDataSample(gt_sem_seg=PixelData(data=labels))
        sample.set_metainfo(dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _build_backbone(name: str) -> torch.nn.Module:
    """Build a backbone of :data:`BACKBONES` in the registry of the toolbox it comes from."""
    cfg = copy.deepcopy(BACKBONES[name])
    if cfg['type'] == 'SMT':
        return SMT(**{k: v for k, v in cfg.items() if k != 'type'})
    toolbox, _, cfg['type'] = cfg['type'].rpartition('.')
    toolbox = toolbox or 'mmdet'
    importlib.import_module(f'{toolbox}.models')  # registers its SwinTransformer
    # a registry builds in the current default scope: another toolbox's Swin otherwise
    with DefaultScope.overwrite_default_scope(toolbox):
        return importlib.import_module(f'{toolbox}.registry').MODELS.build(cfg)


class CaseModel:
    """One case built: the model with its inputs, an inference call and a training step.

    Weights are random (speed does not depend on them). A full model is built by
    :func:`~smt_mm.apis.build_model` from the
    :func:`~smt_mm.analysis.complexity.counting_config` (its RPN keeps a fixed number of proposals)
    and infers with its data preprocessor and ``mode='tensor'`` forward.

    Args:
        case (BenchmarkCase): The case.
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.
        amp (str, optional): ``'fp16'`` or ``'bf16'`` autocast; fp16 on CUDA trains with a
            gradient scaler. None runs fp32. Defaults to None.
        compile (bool): Whether to ``torch.compile`` the backbone. Defaults to False.
    """

    def __init__(
        self,
        case: BenchmarkCase,
        device: str = 'cpu',
        amp: str | None = None,
        compile: bool = False,
    ) -> None:
        torch.manual_seed(0)
        self.case, self.device = case, device
        self.model: Any  # an nn.Module, or a detector / segmentor with a data preprocessor
        if case.config is None:
            self.task = 'backbone'
            self.model = _build_backbone(case.backbone)
            self.inputs = torch.randn(case.batch, 3, case.height, case.width, device=device)
        else:
            cfg = counting_config(case.config)
            if backbone_name(cfg.model.backbone) != case.backbone:
                _swap_backbone(cfg.model, case.backbone)
            self.model = build_model(cfg)
            heads = [cfg.model.get('decode_head'), cfg.model.get('roi_head', {}).get('bbox_head')]
            num_classes = next(h['num_classes'] for h in heads if h and 'num_classes' in h)
            if cfg.get('default_scope') == 'mmseg':
                self.task = 'segmentation'
                self.model.data_preprocessor.size = (case.height, case.width)
                self.data = _seg_inputs(case, num_classes)
            else:
                from mmdet.testing import demo_mm_inputs

                self.task = 'detection'
                self.data = demo_mm_inputs(
                    batch_size=case.batch,
                    image_shapes=[(3, case.height, case.width)] * case.batch,
                    num_items=[5] * case.batch,
                    num_classes=num_classes,
                    with_mask=True,
                )
        self.model.to(device)
        self.eager = self.model
        self.params = sum(p.numel() for p in self.model.parameters())
        if compile and self.task == 'backbone':
            self.model = torch.compile(self.model)
        elif compile:
            self.model.backbone = torch.compile(self.model.backbone)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4)
        self.dtype = dict(fp16=torch.float16, bf16=torch.bfloat16).get(amp or '')
        self.scaler = grad_scaler(device, enabled=amp == 'fp16' and device == 'cuda')

    def _autocast(self) -> Any:
        return torch.autocast(self.device, self.dtype, enabled=self.dtype is not None)

    def infer(self) -> None:
        """Run one inference (eval mode, no gradients)."""
        self.model.eval()
        with torch.no_grad(), self._autocast():
            if self.task == 'backbone':
                self.model(self.inputs)
            else:
                self.model(**self.model.data_preprocessor(self.data, False), mode='tensor')

    def train_step(self) -> None:
        """Run one training step: forward, loss, backward and an AdamW step."""
        self.model.train()
        with self._autocast():
            if self.task == 'backbone':  # the mean of every output map is the loss
                loss = sum(out.float().mean() for out in self.model(self.inputs))
            else:
                losses = self.model(**self.model.data_preprocessor(self.data, True), mode='loss')
                loss = self.model.parse_losses(losses)[0]
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()  # the scaler is a no-op unless fp16 on CUDA
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def macs(self) -> int:
        """int: Multiply-accumulates of one inference of the batch, attention included."""
        return (
            self.case.batch
            * model_complexity(self.eager, (self.case.height, self.case.width)).flops
        )
