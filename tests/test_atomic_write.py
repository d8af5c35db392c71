"""atomic_write: a save is seen whole or not at all."""
import os

import numpy as np
import pytest

from embforge.io.atomic import atomic_write

from vector_files import kv_of


def test_atomic_write_replaces_whole_file_and_respects_umask(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_write(target, "w") as out:
        out.write("héllo\n")
        assert target.read_text() == "old"           # not visible before the end
    assert target.read_text(encoding="utf-8") == "héllo\n"
    umask = os.umask(0)
    os.umask(umask)
    assert (target.stat().st_mode & 0o777) == (0o666 & ~umask)
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_write_keeps_old_file_and_removes_temp_on_error(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "wb") as out:
            out.write(b"partial")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(target, "a"):
            pass


def test_failed_save_leaves_no_file(tmp_path):
    kv = kv_of(["ok", "bad word"], np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="'bad word'"):
        kv.save_word2vec_format(str(tmp_path / "v.txt"))
    assert os.listdir(tmp_path) == []

