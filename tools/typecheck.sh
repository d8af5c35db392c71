#!/usr/bin/env bash
# The static type check (what CI runs after the tests, in the run with torch installed):
#   tools/typecheck.sh        python3 -m mypy with the settings in pyproject.toml ([tool.mypy]:
#                             strict, on python/embforge, native modules described by
#                             _core.pyi and _cuda.pyi)
# It installs nothing: mypy comes with the typecheck extra (pip install ".[typecheck]"), and
# the optional libraries whose types the code uses must be importable too (torch,
# matplotlib, transformers, safetensors: the test extras and torch). Extra arguments go to
# mypy. Exits non-zero on any error.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import mypy" 2>/dev/null; then
  echo "tools/typecheck.sh: mypy is not installed: pip install \".[typecheck]\"" >&2
  exit 2
fi
exec python3 -m mypy "$@"
