"""Convert an official SMT checkpoint (github.com/AFeng-x/SMT) for smt_mm.

Handles the ImageNet release files (``smt_tiny.pth`` ...) and whole detectors / segmentors
trained with the official mmdet 2.x / mmseg 0.x code, and prints what it mapped.

Example:
    python tools/model_converters/smt_to_mm.py smt_tiny.pth smt-tiny_converted.pth
    python tools/model_converters/smt_to_mm.py smt_tiny.pth smt-tiny_cls.pth --keep-head
    python tools/model_converters/smt_to_mm.py mask_rcnn_smt_s_official.pth mask_rcnn_smt_s.pth

Official files also load directly: ImageNet files through
``init_cfg=dict(type='Pretrained', checkpoint=...)``, whole models through ``load_from`` and
``tools/test.py`` (converted as they are loaded). A converted file loads without that step.
"""

import argparse
import os
import os.path as osp

import torch

from smt_mm.models.checkpoint import (
    convert_official_checkpoint,
    convert_official_smt,
    safe_torch_load,
    unwrap_state_dict,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an official SMT checkpoint to the smt_mm SMT backbone keys.'
    )
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='output path')
    parser.add_argument(
        '--keep-head',
        action='store_true',
        help='ImageNet files: keep the head, i.e. write an mmpretrain ImageClassifier state '
        'dict (backbone.*, head.fc.*) instead of a backbone-only one',
    )
    parser.add_argument(
        '--list', action='store_true', help='print every renamed key, not only the first ones'
    )
    return parser.parse_args(argv)


def print_mapping(old_keys, new_keys, show_all, first=8):
    renamed = [(o, n) for o, n in zip(old_keys, new_keys, strict=True) if o != n]
    print(f'{len(renamed)} of {len(old_keys)} keys renamed, e.g.:' if renamed else 'no key renamed')
    for old, new in renamed if show_all else renamed[:first]:
        print(f'  {old} -> {new}')
    if not show_all and len(renamed) > first:
        print(f'  ... ({len(renamed) - first} more; --list shows all)')


def main(argv=None):
    args = parse_args(argv)
    checkpoint = safe_torch_load(args.src)
    old_keys = list(unwrap_state_dict(checkpoint))
    # A detector or segmentor: backbone.* beside a neck and heads (not only a classifier head).
    whole_model = any(k.startswith('backbone.') for k in old_keys) and any(
        not k.startswith(('backbone.', 'head.')) for k in old_keys
    )
    if whole_model:
        converted, note = convert_official_checkpoint(checkpoint)
        print(f'{args.src}: {note or "already in the smt_mm layout"}')
        # The mmcv 1.x optimizer state cannot resume an mmengine run: keep weights and meta.
        output = {'meta': converted.get('meta', {}), 'state_dict': converted['state_dict']}
        new_keys = list(output['state_dict'])
    else:
        state_dict = convert_official_smt(checkpoint, keep_head=args.keep_head)
        output = {'state_dict': state_dict}
        # The head (dropped or renamed) is the only key whose position changes.
        old_keys = [k for k in old_keys if args.keep_head or not k.startswith('head.')]
        new_keys = list(state_dict)
    if len(old_keys) == len(new_keys):
        print_mapping(old_keys, new_keys, args.list)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(output, args.dst)
    print(f'Converted {len(output["state_dict"])} tensors: {args.src} -> {args.dst}')


if __name__ == '__main__':
    main()
