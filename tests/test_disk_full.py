"""A full disk, simulated for real with a file-size limit (RLIMIT_FSIZE) in a
child process: a save fails with an OSError naming the file and the bytes,
removes its temporary and leaves the previous file as it was; a
co-occurrence count whose spills hit the limit fails the same way and
leaves no spill behind."""
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32",
                                reason="RLIMIT_FSIZE is POSIX")

LIMIT = 1 << 20   # 1 MiB: every file below is larger

CHILD = textwrap.dedent("""
    import os, resource, signal, sys
    import numpy as np
    from embforge import KeyedVectors, cooccurrence
    from embforge.io.atomic import _HOST
    kind, directory = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    words = [f"word{i}" for i in range(20_000)]
    storage = np.zeros((len(words) + 2, 32), np.float32)
    storage[:len(words)] = rng.standard_normal((len(words), 32))
    kv = KeyedVectors.from_storage(words, storage)
    small = KeyedVectors.from_storage(words[:10], storage[:12].copy())
    target = os.path.join(directory, "target")
    saves = {"kv": lambda m: m.save(target),
             "word2vec-binary": lambda m: m.save_word2vec_format(target, binary=True),
             "word2vec-text": lambda m: m.save_word2vec_format(target)}
    if kind in saves:
        saves[kind](small)                      # the previous file, within the limit
    # A process over its limit gets SIGXFSZ, which kills it; ignored, the
    # write fails with EFBIG, as on a full disk with ENOSPC.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (%d, %d))
    try:
        if kind in saves:
            saves[kind](kv)
        else:
            spills = os.path.join(directory, "spills")
            os.mkdir(spills)
            sentences = [[f"w{i}" for i in rng.integers(0, 5000, 50)] for _ in range(4000)]
            cooccurrence(sentences, window=10, min_count=1, memory="2MB", workers=1,
                         temp_dir=spills, progress=False, max_product=0)
    except OSError as error:
        print("OSError", error.errno, error)
    else:
        print("no error")
""" % (LIMIT, LIMIT))


def run_child(kind, directory):
    # the import path of this test run: an installed package in CI, python/ in a
    # developer build
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, "-c", CHILD, kind, str(directory)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("kind", ["kv", "word2vec-binary", "word2vec-text"])
def test_save_on_a_full_disk_names_the_file_and_keeps_the_previous_one(tmp_path, kind):
    from embforge import KeyedVectors
    out = run_child(kind, tmp_path)
    target = str(tmp_path / "target")
    assert out.startswith("OSError 27 ") or out.startswith("OSError 28 "), out   # EFBIG / ENOSPC
    assert target in out and "bytes were written" in out and "unchanged" in out, out
    if kind == "kv":
        assert "needs about" in out, out          # the size is known up front
    assert os.listdir(tmp_path) == ["target"]     # no temporary left
    previous = (KeyedVectors.load(target) if kind == "kv" else
                KeyedVectors.load_word2vec_format(target, binary=kind.endswith("binary")))
    assert len(previous) == 10


def test_cooccurrence_spills_on_a_full_disk_fail_cleanly(tmp_path):
    out = run_child("cooccurrence", tmp_path)
    assert out.startswith("OSError"), out
    assert str(tmp_path / "spills") in out, out    # names where it was writing
    assert os.listdir(tmp_path / "spills") == []   # the private spill folder is gone
