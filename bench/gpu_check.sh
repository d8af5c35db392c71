#!/usr/bin/env bash
# GPU check of the CUDA backend, in order of value, each stage under its own
# time cap (bench/gpu_stages.py holds the order and the caps): build + install,
# GPU tests, the headline throughputs (skip-gram words/s, co-occurrence
# tokens/s, GloVe pair-updates/s), the CPU reference, quality against the CPU,
# then as time allows compute-sanitizer (memcheck, racecheck), more seeds, the
# large-vocabulary case, tuning variants and the distributed runs (NCCL with
# one rank, then two gloo ranks syncing CUDA tensors: bench/gpu_replicas.py).
# Every stage prints its part of the table when it ends, so a run cut short
# keeps every finished stage's numbers. Whole run <= 5 minutes on one H200
# (EMBFORGE_GPU_CHECK_SECONDS, default 285); rerunnable.
#
# The device machine gets only the repository (no ../shared, no network), so
# the data travels in an ignored folder, .gpu_data/ (about 16 MiB). The lead
# prepares it once in the checkout:
#
#   mkdir -p .gpu_data
#   cp ../shared/data/corpus/*.txt.gz ../shared/data/eval/questions-words.txt \
#      ../shared/data/eval/wordsim353.tsv .gpu_data/
#   grep -qxF '/.gpu_data/' .git/info/exclude || echo '/.gpu_data/' >> .git/info/exclude
#
# and, optionally, the CPU's quality over seeds 1-3 (saves the device machine
# the cpu-reference stage, about a minute on its 16 cores; any machine with the
# package built will do, roughly 5-10 minutes on 2 cores):
#
#   python bench/gpu_bench.py cpu-reference --data .gpu_data --out /tmp/gpuref \
#      --reference .gpu_data/cpu_reference.json
#
# A run without it trains the reference there and leaves it in
# $OUT/gpu_check/cpu_reference.json: copy that into .gpu_data/ for the next run.
# Run (device tool): command "bash bench/gpu_check.sh", carry [".gpu_data"],
# timeout_s 420. Results: the printed table, and $OUT/gpu_check/ (the run's
# output folder, or /tmp/embforge-gpu-check) holds rows.jsonl (every row), a
# log per stage, cpu_reference.json and gpu_quality.json.
#
# EMBFORGE_GPU_CHECK_DRY=1 (or --dry-run) runs the schedule on the CPU with tiny
# stand-ins in a few seconds (tests/test_gpu_check.py does, in CI). Other
# arguments go to bench/gpu_stages.py (--only build,tests,headline, --budget S).
#
# Needs on the machine: Python with torch (or CuPy), numpy, tqdm, pybind11,
# scikit-build-core, cmake, ninja and nvcc. pytest runs the GPU tests when
# installed (a stub stands in for hypothesis when that is missing).
set -uo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
dry=${EMBFORGE_GPU_CHECK_DRY:-0}
for arg in "$@"; do [ "$arg" = --dry-run ] && dry=1; done
export EMBFORGE_GPU_CHECK_DRY=$dry

if [ "$dry" = 0 ]; then
  # nvcc is often installed but not on PATH (a bare image, a non-login shell)
  if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="/usr/local/cuda/bin:$PATH"
  fi
  echo "== machine"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -2
  nvcc --version 2>&1 | tail -1
  command -v compute-sanitizer >/dev/null 2>&1 || echo "compute-sanitizer not found: sanitizer stages skipped"
  "$python" -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda)" 2>&1
  data=${EMBFORGE_GPU_DATA:-.gpu_data}
  if [ ! -d "$data" ] || ! ls "$data"/*.txt.gz >/dev/null 2>&1; then
    echo "missing $data/*.txt.gz: prepare and carry it as the header of this script says"
    exit 2
  fi
  if "$python" -c "import pytest" 2>/dev/null && ! "$python" -c "import hypothesis" 2>/dev/null; then
    # conftest.py and the test files import it; no selected (cuda) test uses it
    stubs=$(mktemp -d)
    mkdir -p "$stubs/hypothesis/extra"
    cat >"$stubs/hypothesis/__init__.py" <<'STUB'
class settings:  # conftest.py's profiles, and @settings(...) on tests
    def __init__(self, *a, **k): pass
    def __call__(self, f): return f
    @staticmethod
    def register_profile(*a, **k): pass
    @staticmethod
    def load_profile(*a, **k): pass
class _Anything:  # given(...), st.lists(...).map(...) | st.just(...): all inert
    def __call__(self, *a, **k): return self
    def __getattr__(self, name):
        if name.startswith("_") or name == "pytestmark":  # what pytest probes
            raise AttributeError(name)
        return self
    def __or__(self, other): return self
    __ror__ = __or__
_anything = _Anything()
def __getattr__(name): return _anything  # given, assume, strategies, HealthCheck
STUB
    echo 'def __getattr__(name): from hypothesis import _anything; return _anything' \
      >"$stubs/hypothesis/extra/__init__.py"
    export PYTHONPATH="$stubs${PYTHONPATH:+:$PYTHONPATH}"
  fi
fi
args=()
for arg in "$@"; do [ "$arg" != --dry-run ] && args+=("$arg"); done
exec "$python" bench/gpu_stages.py ${args[@]+"${args[@]}"}
