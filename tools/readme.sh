#!/usr/bin/env bash
# Regenerate README.md from nbs/index.ipynb (nbdev_readme would need Quarto; nbconvert gives the same Markdown).
set -euo pipefail
cd "$(dirname "$0")/.."
jupyter nbconvert --to markdown --log-level=WARN --stdout nbs/index.ipynb > README.md
