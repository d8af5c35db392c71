#!/usr/bin/env bash
# Builds the documentation site into site/ (what CI runs after the tests):
#   tools/build_docs.sh            pip install ".[docs]", then mkdocs build --strict
#   tools/build_docs.sh --no-install   the build alone, in an environment that has them
# --strict makes every warning an error: a broken link, a missing reference, a
# docstring the API pages cannot render. The CLI reference is generated from the
# installed embforge's argument parser, so the package is installed too.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_MKDOCS_2_WARNING=1   # Material's notice about MkDocs 2, printed on every build
if [ "${1:-}" != "--no-install" ]; then
  pip install ".[docs]"
fi
mkdocs build --strict
