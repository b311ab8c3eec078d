"""Compare tools/test.py evaluations with the paper and check its SMT-vs-Swin claims.

Example:
    python tools/analysis/compare_results.py work_dirs/mask_rcnn_smt_b_1x \
        work_dirs/mask_rcnn_swin_s_1x --out report.md --plot claims.png
"""

import argparse
from pathlib import Path

from smt_mm.analysis.compare import (
    DEFAULT_TOLERANCE,
    check_claims,
    comparison_markdown,
    find_eval_records,
    plot_claims,
    result_rows,
)
from smt_mm.analysis.paper import load_model_index

ROOT = Path(__file__).resolve().parents[2]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'work_dirs', nargs='+', help='work directories of tools/test.py (or eval_*.json files)'
    )
    parser.add_argument(
        '--tolerance',
        type=float,
        default=DEFAULT_TOLERANCE,
        help='points a measured SMT-minus-Swin gap may fall short of the claim and still count '
        f'as reproduced (default: {DEFAULT_TOLERANCE})',
    )
    parser.add_argument('--out', type=Path, help='also write the Markdown report to this file')
    parser.add_argument('--plot', type=Path, help='write a PNG chart of the claims')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    records = find_eval_records(args.work_dirs)
    checks = check_claims(records, tolerance=args.tolerance)
    report = comparison_markdown(
        result_rows(records, load_model_index(ROOT / 'model-index.yml')), checks
    )
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
        print(f'report written to {args.out}')
    if args.plot:
        print(f'chart written to {plot_claims(checks, args.plot)}')


if __name__ == '__main__':
    main()
