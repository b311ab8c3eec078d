"""Effective receptive fields of a backbone's stages, optionally beside another model's.

The gradient of each stage's central output pixel with respect to the input, summed over the
images, drawn per stage on a log scale (erf.png), and the fewest input pixels that hold 20 / 50
/ 90 % of it (erf.json, and printed). Any backbone whose forward returns NCHW stage outputs.
A trained model is not compared with an untrained one (no checkpoint, no Pretrained init_cfg)
unless --allow-untrained says so; an untrained model is marked "untrained (random init)".

Examples:
    python tools/analysis/receptive_field.py configs/detection/mask_rcnn_smt_t_toy.py \
        --images data/toy_coco/val2017 --num 8 --out-dir work_dirs/erf \
        --compare configs/detection/mask_rcnn_swin_t_toy.py
    python tools/analysis/receptive_field.py configs/detection/mask_rcnn_smt_t_toy.py \
        work_dirs/toy_det_smt/iter_400.pth --images data/toy_coco/val2017 --out-dir work_dirs/erf \
        --compare configs/detection/mask_rcnn_swin_t_toy.py work_dirs/toy_det_swin/iter_400.pth
"""

import argparse
import json
import os
import os.path as osp

from smt_mm.apis import build_model
from smt_mm.apis.command_line import (
    add_model_arguments,
    exit_on_user_error,
    parse_size,
    parse_with_verbosity,
    print_outputs,
)
from smt_mm.config import load_config
from smt_mm.maps.grids import draw_erf_grid
from smt_mm.maps.receptive_field import (
    FRACTIONS,
    check_comparable,
    measure_erf,
    weights_source,
)
from smt_mm.visualization.images import list_images


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_arguments(parser)  # --cfg-options apply to every config
    parser.add_argument('--images', required=True, nargs='+', help='image files or folders')
    parser.add_argument('--num', type=int, default=16, help='use the first N images (16)')
    parser.add_argument(
        '--size', type=parse_size, default=(256, 256, 1), metavar='HxW',
        help='input size the images are resized to (256x256)',
    )  # fmt: skip
    parser.add_argument(
        '--compare', nargs='+', metavar=('CONFIG', 'CHECKPOINT'),
        help='a second model drawn beside the first (e.g. the Swin twin), checkpoint optional',
    )  # fmt: skip
    parser.add_argument(
        '--allow-untrained', action='store_true',
        help='compare a trained model with an untrained one (no checkpoint) on purpose',
    )  # fmt: skip
    parser.add_argument('--out-dir', required=True, help='where erf.png and erf.json go')
    parser.add_argument('--seed', type=int, default=0, help='seed of random initialisations (0)')
    args = parse_with_verbosity(parser, argv)
    if args.num < 1:
        parser.error('--num must be positive')
    if args.compare and len(args.compare) > 2:
        parser.error('--compare takes CONFIG and optionally CHECKPOINT')
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    models = [(args.config, args.checkpoint)]
    if args.compare:
        models.append((args.compare[0], args.compare[1] if len(args.compare) > 1 else None))
    report: dict = {'size': list(args.size[:2]), 'fractions': list(FRACTIONS), 'models': {}}
    erfs, areas, sources = {}, {}, {}
    with exit_on_user_error(FileNotFoundError, KeyError, ValueError):
        cfgs = [load_config(config, args.cfg_options) for config, _ in models]
        labels = [osp.splitext(osp.basename(config))[0] for config, _ in models]
        for label, cfg, (_, checkpoint) in zip(labels, cfgs, models, strict=True):
            sources[label] = weights_source(cfg.model, checkpoint)
        check_comparable(sources, args.allow_untrained)  # before the slow part
        images = list_images(args.images)[: args.num]
        report['images'] = images
        for label, cfg, (config, checkpoint) in zip(labels, cfgs, models, strict=True):
            model = build_model(cfg, checkpoint, seed=args.seed)
            erfs[label], areas[label] = measure_erf(model, images, args.size[:2])
            report['models'][label] = {
                'config': config,
                'checkpoint': checkpoint,
                'weights': sources[label],
                'stages': [
                    {'stage': k, 'areas': stage_areas} for k, stage_areas in enumerate(areas[label])
                ],
            }
    os.makedirs(args.out_dir, exist_ok=True)
    report['picture'] = draw_erf_grid(erfs, areas, osp.join(args.out_dir, 'erf.png'), sources)
    with open(osp.join(args.out_dir, 'erf.json'), 'w') as f:
        json.dump(report, f, indent=2)
    print(f'ERF over {len(images)} image(s) of {args.size[0]}x{args.size[1]}: share of the input '
          'area that holds 20 / 50 / 90 % of the contribution')  # fmt: skip
    for label, stages in areas.items():
        print(f'{label}: {sources[label]}')
        for k, stage_areas in enumerate(stages):
            shares = ' / '.join(f'{100 * a["ratio"]:.2f}%' for a in stage_areas.values())
            print(f'{label:<28} stage {k}: {shares}')
    print_outputs({'picture': report['picture'], 'areas': osp.join(args.out_dir, 'erf.json')})
    return report


if __name__ == '__main__':
    main()
