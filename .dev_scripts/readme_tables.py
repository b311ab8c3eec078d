"""Print the paper's results tables generated from the metafiles, or write them into README.md.

Examples:
    python tools/analysis/readme_tables.py            # print the tables
    python tools/analysis/readme_tables.py --write    # replace them in README.md between markers
"""

import argparse

from smt_mm.analysis.paper import load_model_index, repo_root, results_markdown, update_readme


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--write', action='store_true', help='update README.md in place')
    args = parser.parse_args()
    tables = results_markdown(load_model_index())
    if not args.write:
        print(tables, end='')
        return
    readme = repo_root() / 'README.md'
    readme.write_text(update_readme(readme.read_text(), tables))
    print(f'updated {readme}')


if __name__ == '__main__':
    main()
