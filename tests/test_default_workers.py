"""workers=None: the cores this process may use, shared with the other
processes torchrun started on the machine (LOCAL_WORLD_SIZE)."""
import os
import subprocess
import sys

import pytest

import embforge
from embforge._workers import default_workers


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@pytest.mark.parametrize("local, expected", [(None, lambda c: c), ("1", lambda c: c),
                                             ("2", lambda c: max(1, c // 2)),
                                             ("1000", lambda c: 1),
                                             ("0", lambda c: c), ("x", lambda c: c)])
def test_the_cores_are_shared_by_the_ranks_of_one_machine(monkeypatch, local, expected) -> None:
    if local is None:
        monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("LOCAL_WORLD_SIZE", local)
    assert default_workers() == expected(cores())


def test_every_trainer_takes_the_default(monkeypatch) -> None:
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1000")
    assert embforge.Word2Vec(vector_size=4).workers == 1
    assert embforge.GloVe(vector_size=4).workers == 1
    assert embforge.FastText(vector_size=4).workers == 1
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    assert embforge.Word2Vec(vector_size=4).workers == cores()
    with pytest.raises(ValueError, match="workers must be >= 1 and <= 1024, got 0"):
        embforge.Word2Vec(workers=0)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="needs Linux's CPU affinity")
def test_a_process_pinned_to_one_core_uses_one_thread() -> None:
    # a real process under taskset-like affinity (set by the parent before exec)
    code = "import embforge; print(embforge.Word2Vec(vector_size=4).workers)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    env.pop("LOCAL_WORLD_SIZE", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}),
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
