"""glove.c's co-occurrence records written natively (csrc/cpu/glove_records.cpp):
the same bytes numpy's structured packing gives, through direct I/O on large
files (a padded last block cut back) and the page cache elsewhere."""
import errno
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from embforge import _native
from embforge.cooccurrence import GLOVE_RECORD

core = _native.core
DIRECT_MIN_RECORDS = (8 << 20) // 16  # two of the writer's 4 MiB staging blocks: direct past the first
ONE_BLOCK = (4 << 20) // 16


def oracle(rows, cols, values):
    records = np.empty(len(rows), dtype=GLOVE_RECORD)
    records["word1"] = rows + 1
    records["word2"] = cols + 1
    records["value"] = values
    return records.tobytes()


def columns(n, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 2**31 - 2, n, dtype=np.int32), rng.integers(0, 1000, n, dtype=np.int32),
            rng.random(n, dtype=np.float32) * 100)


def write(path, rows, cols, values, offset=0, mode="wb"):
    with open(path, mode) as out:
        return core.write_glove_records(out.fileno(), offset, rows, cols, values, name=str(path))


def direct_io_works(folder):
    """Whether `folder`'s filesystem takes an aligned O_DIRECT write (probed
    with an mmap'd, hence page-aligned, block)."""
    import mmap
    if not hasattr(os, "O_DIRECT"):
        return False
    probe = os.path.join(folder, "probe")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
    except OSError:
        return False
    try:
        with mmap.mmap(-1, 4096) as block:
            return os.write(fd, block) == 4096
    except OSError:
        return False
    finally:
        os.close(fd)
        os.remove(probe)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 70_000), seed=st.integers(0, 1000))
def test_small_files_are_the_oracles_bytes(tmp_path_factory, n, seed):
    path = tmp_path_factory.mktemp("rec") / "c.bin"
    r, c, v = columns(n, seed)
    assert not write(path, r, c, v)  # under 8 MiB: through the page cache
    assert path.read_bytes() == oracle(r, c, v)


@pytest.mark.parametrize("extra", [0, 1, 255, 256, 65_537])
def test_large_files_go_direct_and_end_at_the_last_record(tmp_path, extra):
    # past kDirectMinBytes: whole blocks written direct, the last one padded
    # and the file cut back to 16 bytes a record (extra=0 and 256 end on a block)
    n = DIRECT_MIN_RECORDS + extra
    r, c, v = columns(n, extra)
    path = tmp_path / "c.bin"
    assert write(path, r, c, v) == direct_io_works(tmp_path)
    assert os.path.getsize(path) == 16 * n
    assert path.read_bytes() == oracle(r, c, v)


def test_chunks_at_offsets_join_into_one_file(tmp_path):
    # Cooccurrence.save_glove_binary writes an on-disk matrix chunk by chunk
    r, c, v = columns(DIRECT_MIN_RECORDS * 2 + 77)
    path = tmp_path / "c.bin"
    cut = DIRECT_MIN_RECORDS + 4096
    with open(path, "wb") as out:
        core.write_glove_records(out.fileno(), 0, r[:cut], c[:cut], v[:cut])
        core.write_glove_records(out.fileno(), 16 * cut, r[cut:], c[cut:], v[cut:])
    assert path.read_bytes() == oracle(r, c, v)


def test_an_unaligned_offset_and_a_longer_file_are_respected(tmp_path):
    # an offset off the block size goes through the page cache; bytes past
    # the records that were there before are never cut
    path = tmp_path / "c.bin"
    path.write_bytes(b"x" * (16 * DIRECT_MIN_RECORDS + 3 * 4096 + 5))
    r, c, v = columns(DIRECT_MIN_RECORDS)
    with open(path, "r+b") as out:
        core.write_glove_records(out.fileno(), 8, r, c, v)
    data = path.read_bytes()
    assert data[:8] == b"x" * 8 and data[8:8 + 16 * len(r)] == oracle(r, c, v)
    assert len(data) == 16 * DIRECT_MIN_RECORDS + 3 * 4096 + 5
    r, c, v = columns(ONE_BLOCK + 100)  # a block direct, then a tail of 100 records
    path.write_bytes(b"y" * (16 * len(r) + 10_000))
    with open(path, "r+b") as out:  # the tail lies inside the old size: no padded block there
        core.write_glove_records(out.fileno(), 0, r, c, v)
    data = path.read_bytes()
    assert data[:16 * len(r)] == oracle(r, c, v)
    assert data[16 * len(r):] == b"y" * 10_000  # the bytes past the records are kept


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no tmpfs at /dev/shm")
def test_tmpfs_gets_the_same_bytes(tmp_path):
    # tmpfs takes O_DIRECT since Linux 6.6 and refused it before: either way
    # the same bytes, and the answer says which way they went
    import tempfile
    r, c, v = columns(DIRECT_MIN_RECORDS + 3)
    with tempfile.TemporaryDirectory(dir="/dev/shm") as folder:
        path = os.path.join(folder, "c.bin")
        assert write(path, r, c, v) == direct_io_works(folder)
        with open(path, "rb") as f:
            assert f.read() == oracle(r, c, v)


def test_a_failed_write_is_an_oserror_naming_the_file(tmp_path):
    r, c, v = columns(10)
    with open(tmp_path / "ro.bin", "wb") as f:
        pass
    with open(tmp_path / "ro.bin", "rb") as f:  # read-only descriptor: EBADF
        with pytest.raises(OSError) as info:
            core.write_glove_records(f.fileno(), 0, r, c, v, name="ro.bin")
    assert info.value.errno == errno.EBADF and "ro.bin" in str(info.value)


def test_bad_arrays_are_value_errors(tmp_path):
    r, c, v = columns(10)
    with open(tmp_path / "c.bin", "wb") as out:
        with pytest.raises(ValueError, match="rows must have dtype int32"):
            core.write_glove_records(out.fileno(), 0, r.astype(np.int64), c, v)
        with pytest.raises(ValueError, match="cols has shape"):
            core.write_glove_records(out.fileno(), 0, r, c[:5], v)
        with pytest.raises(ValueError, match="offset must be >= 0"):
            core.write_glove_records(out.fileno(), -16, r, c, v)
        with pytest.raises(ValueError, match="fd must be"):
            core.write_glove_records(-1, 0, r, c, v)


def test_the_descriptors_position_stays_and_appending_descriptors_are_refused(tmp_path):
    r, c, v = columns(ONE_BLOCK + 3)
    with open(tmp_path / "c.bin", "wb") as out:
        out.write(b"z" * 16)
        out.flush()
        core.write_glove_records(out.fileno(), 16, r, c, v)
        assert os.lseek(out.fileno(), 0, os.SEEK_CUR) == 16  # pwrite: the position did not move
    assert (tmp_path / "c.bin").read_bytes() == b"z" * 16 + oracle(r, c, v)
    with open(tmp_path / "a.bin", "ab") as out:
        with pytest.raises(ValueError, match="O_APPEND"):
            core.write_glove_records(out.fileno(), 0, r, c, v)


def test_a_full_disk_mid_merge_stops_every_thread_and_leaves_no_file(tmp_path):
    # the count straight to the file, with a file-size limit (RLIMIT_FSIZE)
    # it reaches mid-merge: an OSError (EFBIG) from the writer, the other
    # merge threads released (no hang), nothing left behind
    import subprocess
    import sys
    script = (
        "import resource, signal, sys, numpy as np, embforge\n"
        "from embforge.corpus import EncodedCorpus\n"
        "from embforge.vocab import Vocabulary\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (6 << 20, 6 << 20))\n"
        "rng = np.random.default_rng(0); n = 400_000\n"
        "ids = (rng.zipf(1.2, n).clip(1, 20000) - 1).astype(np.uint32)\n"
        "corpus = EncodedCorpus(Vocabulary([f'w{i}' for i in range(20000)]), ids,\n"
        "                       np.arange(0, n + 1, 40, dtype=np.int64), n, 0)\n"
        "try:\n"
        "    embforge.cooccurrence_to_glove(corpus, sys.argv[1], window=10, workers=int(sys.argv[2]),\n"
        "                                   memory='256MB', progress=False)\n"
        "except OSError as error:\n"
        "    print('OSError', error.errno)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    for workers in (1, 3):
        out = tmp_path / f"c{workers}.bin"
        done = subprocess.run([sys.executable, "-c", script, str(out), str(workers)], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip() == f"OSError {errno.EFBIG}", (done.stdout, done.stderr[-2000:])
        assert os.listdir(tmp_path) == [], os.listdir(tmp_path)
