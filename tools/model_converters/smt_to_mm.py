"""Convert an official SMT checkpoint (github.com/AFeng-x/SMT releases) for smt_mm.

Example:
    python tools/model_converters/smt_to_mm.py smt_tiny.pth smt-tiny_converted.pth
    python tools/model_converters/smt_to_mm.py smt_tiny.pth smt-tiny_cls.pth --keep-head

Official files also load directly through ``init_cfg=dict(type='Pretrained', checkpoint=...)``;
a converted file is smaller (no head) and loads without the on-the-fly conversion.
"""

import argparse
import os
import os.path as osp

import torch

from smt_mm.models.utils import convert_official_smt
from smt_mm.utils import safe_torch_load


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an official SMT checkpoint to the smt_mm SMT backbone keys.'
    )
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='output path')
    parser.add_argument(
        '--keep-head',
        action='store_true',
        help='keep the ImageNet head: write an mmpretrain ImageClassifier state dict '
        '(backbone.*, head.fc.*) instead of a backbone-only one',
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    checkpoint = safe_torch_load(args.src)
    state_dict = convert_official_smt(checkpoint, keep_head=args.keep_head)
    dst_dir = osp.dirname(osp.abspath(args.dst))
    os.makedirs(dst_dir, exist_ok=True)
    torch.save({'state_dict': state_dict}, args.dst)
    print(f'Converted {len(state_dict)} tensors: {args.src} -> {args.dst}')


if __name__ == '__main__':
    main()
