"""Corpora that are not what they seem, given to the CLI as a user would: a
directory, binary garbage, a FIFO (read as a stream), and a file that shrinks
while a rank reads its share: a clear error or the documented behaviour,
never a hang or a traceback."""
import os
import subprocess
import sys
import threading

import pytest

from embforge.io.line_ranges import rank_share



def embforge_cli(*args, timeout=60):
    # the import path of this test run: an installed package in CI, python/ in a
    # developer build
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.run([sys.executable, "-m", "embforge", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("command", ["vocab", "train", "cooccur"])
def test_a_directory_is_refused(tmp_path, command):
    done = embforge_cli(command, str(tmp_path), "-o", str(tmp_path / "out.txt"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"expected a file, found a directory: '{tmp_path}'" in done.stderr
    assert not (tmp_path / "out.txt").exists()


@pytest.mark.parametrize("command", ["vocab", "train", "cooccur"])
def test_binary_garbage_is_refused(tmp_path, command):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 64)
    done = embforge_cli(command, str(garbage), "-o", str(tmp_path / "out.txt"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "is this a text file?" in done.stderr
    assert not (tmp_path / "out.txt").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_read_as_a_stream(tmp_path):
    fifo = str(tmp_path / "corpus.fifo")
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "w") as out:
            out.write("a b c a b a\nb a c\n" * 100)
    writer = threading.Thread(target=feed)
    writer.start()
    done = embforge_cli("vocab", fifo, "-o", str(tmp_path / "vocab.txt"), "--min-count", "1")
    writer.join(10)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "vocab.txt").read_text() == "a 400\nb 300\nc 200\n"


def test_a_file_that_shrinks_while_a_rank_reads_its_share_is_an_error(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(b"alpha beta gamma\n" * 200_000)     # 3.4 MB: several blocks a rank
    share = rank_share([str(corpus)], 0, 2, chunk_bytes=1 << 16)
    next(share)                                             # reading has begun
    os.truncate(corpus, 1000)
    with pytest.raises(ValueError, match="shrank while it was read"):
        for _ in share:
            pass
