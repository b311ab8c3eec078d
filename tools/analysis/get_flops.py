"""Parameters and FLOPs of the shipped configs at the paper's input sizes, next to the paper's.

Examples:
    python tools/analysis/get_flops.py                       # every shipped config
    python tools/analysis/get_flops.py smt_b_in1k_224        # one model of model-index.yml
    python tools/analysis/get_flops.py configs/detection/mask_rcnn_smt_b_1x.py --shape 800x1333
"""

import argparse
from pathlib import Path

import smt_mm  # noqa: F401  (registers SMT)
from smt_mm.analysis.complexity import complexity_markdown, config_complexity
from smt_mm.analysis.paper import load_model_index
from smt_mm.apis.command_line import add_cfg_options_argument, parse_size, parse_with_verbosity

ROOT = Path(__file__).resolve().parents[2]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'models',
        nargs='*',
        help='model names of model-index.yml or config paths (default: every shipped config)',
    )
    parser.add_argument(
        '--shape',
        type=parse_size,
        metavar='HxW',
        help="input height x width (default: the metafile's, i.e. the paper's)",
    )
    add_cfg_options_argument(parser)
    args = parse_with_verbosity(parser, None)
    if args.shape and args.shape[2] != 1:
        parser.error('--shape takes HxW: FLOPs are counted for one image')
    return args


def main() -> None:
    args = parse_args()
    models = load_model_index(ROOT / 'model-index.yml')
    by_config = {(ROOT / model.config).resolve(): model for model in models.values()}
    if args.models:
        paths = [ROOT / models[m].config if m in models else Path(m) for m in args.models]
        for path in paths:
            if not path.is_file():
                raise SystemExit(f'{path} does not exist')
    else:
        paths = [path for path in by_config if path.is_file()]
    if not paths:
        raise SystemExit('no config to count: none of the configs of model-index.yml exists')
    rows = []
    for path in paths:
        shape = args.shape[:2] if args.shape else None
        paper = by_config.get(path.resolve())
        rows.append(config_complexity(path, paper, shape, args.cfg_options))
        print(f'counted {path}', flush=True)
    print()
    print(complexity_markdown(rows))
    print(
        'FLOPs: one multiply-add = one FLOP (mmengine FlopAnalyzer). "w/o attn" leaves out the '
        "attention matrix products (SDPA / matmul / bmm), as the papers' module-hook counters "
        'do. See docs/complexity.md.'
    )


if __name__ == '__main__':
    main()
