"""Parameters and FLOPs of the shipped configs at the paper's input sizes, next to the paper's.

Examples:
    python tools/analysis/get_flops.py                       # every shipped config
    python tools/analysis/get_flops.py smt_b_in1k_224        # one model of model-index.yml
    python tools/analysis/get_flops.py configs/detection/mask_rcnn_smt_b_1x.py --shape 1333 800
"""

import argparse
from pathlib import Path

from mmengine.config import DictAction

import smt_mm  # noqa: F401  (registers SMT)
from smt_mm.analysis.complexity import complexity_markdown, config_complexity, shipped_configs
from smt_mm.analysis.paper import load_model_index, repo_root


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'models',
        nargs='*',
        help='model names of model-index.yml or config paths (default: every shipped config)',
    )
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('WIDTH', 'HEIGHT'),
        help="input size (default: the metafile's, i.e. the paper's)",
    )
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    models = load_model_index()
    root = repo_root()
    by_config = {(root / model.config).resolve(): model for model in models.values()}
    if not args.models:
        targets = shipped_configs(models, root)
    else:
        targets = []
        for item in args.models:
            path = root / models[item].config if item in models else Path(item)
            if not path.is_file():
                raise SystemExit(f'{path} does not exist')
            targets.append((path, by_config.get(path.resolve())))
    if not targets:
        raise SystemExit('no config to count: none of the configs of model-index.yml exists')
    rows = []
    for config, paper in targets:
        rows.append(
            config_complexity(
                config,
                paper,
                input_size=tuple(args.shape) if args.shape else None,
                cfg_options=args.cfg_options,
            )
        )
        print(f'counted {config}', flush=True)
    print()
    print(complexity_markdown(rows))
    print(
        'FLOPs: one multiply-add = one FLOP (mmengine FlopAnalyzer). "w/o attn" leaves out the '
        "attention matrix products (SDPA / matmul / bmm), as the papers' module-hook counters "
        'do. See docs/complexity.md.'
    )


if __name__ == '__main__':
    main()
