"""The process-group seam without other processes: opt-in only, the timeout
setting, clear errors, and no torch import on `import embforge`."""
import datetime
import os
import subprocess
import sys

import numpy as np  # noqa: F401 - used by the code the subprocesses run
import pytest

from embforge.distributed import resolve_group
from embforge.distributed.consistency import digest
from embforge.distributed.group import resolve_timeout
from embforge.distributed.vocabulary import owner_ranks

# the subprocesses import embforge from where this test run does (an installed
# package in CI, python/ with PYTHONPATH in a developer build)
PYTHON = os.pathsep.join(p for p in sys.path if p)


def test_nothing_asked_nothing_changes():
    assert resolve_group() is None
    assert resolve_group(distributed=False, process_group=None) is None


def test_timeout_from_argument_environment_or_default(monkeypatch):
    monkeypatch.delenv("EMBFORGE_DIST_TIMEOUT", raising=False)
    assert resolve_timeout() == 60.0
    assert resolve_timeout(5) == 5.0 and resolve_timeout(datetime.timedelta(minutes=2)) == 120.0
    monkeypatch.setenv("EMBFORGE_DIST_TIMEOUT", "7.5")
    assert resolve_timeout() == 7.5 and resolve_timeout(3) == 3.0
    monkeypatch.setenv("EMBFORGE_DIST_TIMEOUT", "soon")
    with pytest.raises(ValueError, match=r"\$EMBFORGE_DIST_TIMEOUT must be a number of seconds, got 'soon'"):
        resolve_timeout()
    for bad in (0, -1, float("nan"), float("inf"), True, "5"):
        with pytest.raises(ValueError, match="timeout must be a positive"):
            resolve_timeout(bad)


def test_distributed_without_a_process_group_says_how(tmp_path):
    pytest.importorskip("torch")
    import torch.distributed as dist
    assert not dist.is_initialized()
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n")
    import embforge
    with pytest.raises(ValueError, match="torchrun.*init_process_group"):
        embforge.encode(str(corpus), min_count=1, distributed=True)


def test_import_embforge_does_not_import_torch():
    code = ("import sys, embforge, embforge.distributed, embforge.io.line_ranges\n"
            "from embforge.distributed import resolve_group\n"
            "assert resolve_group() is None\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": PYTHON})


VALUE = ("{'min_count': 5, 'files': [{'size': 10, 'x': b'\\x00\\xff'}], 'f': 0.1, "
         "'a': np.arange(3, dtype=np.int32), 'n': None, 't': ('x', True)}")


def test_digests_and_owners_are_stable_across_processes():
    """Not Python's salted hash(): two interpreters with different hash seeds agree."""
    code = ("from embforge.distributed.consistency import digest\n"
            "from embforge.distributed.vocabulary import owner_ranks\nimport numpy as np\n"
            f"print(digest({VALUE}), owner_ranks([b'the', b'caf\\xc3\\xa9', b'x'], 3).tolist())")
    outputs = {subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": PYTHON,
                                              "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2")}
    value = eval(VALUE)
    assert outputs == {f"{digest(value)} {owner_ranks([b'the', 'café'.encode(), b'x'], 3).tolist()}\n"}
    assert digest({"a": 1}) != digest({"a": 1.0}) != digest({"a": "1"})
    assert digest([1, 2]) == digest((1, 2))  # a list and a tuple of the same items agree


def test_digest_refuses_what_it_cannot_compare():
    with pytest.raises(TypeError, match="cannot compare a object"):
        digest(object())
