"""The line-range reader (io/line_ranges.py) against a plain-Python oracle of
its rule: lines laid end to end over the decompressed files, block k of the
global stream dealt to rank k % world_size, a line owned by the block of its
first byte."""
import bz2
import gzip
import lzma

import pytest
from hypothesis import given, strategies as st

from embforge.io.compression import sniff
from embforge.io.line_ranges import block_bytes, files_fingerprint, owner_of, rank_share

COMPRESSORS = {"plain": lambda b: b, "gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}


def file_lines(data: bytes):
    """(offset, line) for each line of one file; a line keeps its newline."""
    out, at = [], 0
    while at < len(data):
        end = data.find(b"\n", at)
        end = len(data) if end < 0 else end + 1
        out.append((at, data[at:end]))
        at = end
    return out


def oracle(contents, rank, world, block):
    """The lines of `rank`, each newline-terminated, in corpus order."""
    kept, start = [], 0
    for data in contents:
        for offset, line in file_lines(data):
            if ((start + offset) // block) % world == rank:
                kept.append(line if line.endswith(b"\n") else line + b"\n")
        start += len(data)
    return kept


def write_files(folder, contents, kinds):
    paths = []
    for i, (data, kind) in enumerate(zip(contents, kinds)):
        path = folder / f"part{i}.{kind}"
        path.write_bytes(COMPRESSORS[kind](data))
        paths.append(str(path))
    return paths


line = st.one_of(st.just(b""), st.binary(max_size=12).map(lambda b: b.replace(b"\n", b" ")),
                 st.sampled_from([b"word", b"a b\r", b"\r", b"  x  y", b"caf\xc3\xa9"]))
# (a plain file that starts with a compression magic is read as compressed, by design)
file_content = st.tuples(st.lists(line, max_size=25), st.booleans()).map(
    lambda t: b"\n".join(t[0]) + (b"\n" if t[1] and t[0] else b"")).filter(
    lambda b: sniff(b[:6]) is None)


@given(contents=st.lists(file_content, min_size=1, max_size=4),
       kinds=st.lists(st.sampled_from(["plain", "plain", "gz", "bz2", "xz"]), min_size=4, max_size=4),
       world=st.integers(1, 5), block=st.one_of(st.just(0), st.integers(1, 40)),
       chunk=st.sampled_from([1, 3, 7, 64, 1 << 20]))
def test_shares_follow_the_rule_and_cover_every_line_once(tmp_path_factory, contents, kinds,
                                                          world, block, chunk):
    paths = write_files(tmp_path_factory.mktemp("lr"), contents, kinds)
    used_block = block or block_bytes([len(open(p, "rb").read()) for p in paths], world)
    all_lines = [l if l.endswith(b"\n") else l + b"\n"
                 for data in contents for _, l in file_lines(data)]
    union = []
    for rank in range(world):
        got = b"".join(rank_share(paths, rank, world, block=block, chunk_bytes=chunk))
        expected = oracle(contents, rank, world, used_block)
        assert got == b"".join(expected)
        union += expected
    assert sorted(union) == sorted(all_lines)


def test_oracle_lines():
    assert file_lines(b"a\n\nb") == [(0, b"a\n"), (2, b"\n"), (3, b"b")]
    assert file_lines(b"") == [] and file_lines(b"\n") == [(0, b"\n")]


def test_compressed_and_plain_copies_are_split_alike(tmp_path):
    """The seeking reader (plain) and the streaming one (gzip) keep the same lines."""
    data = b"".join(b"line %d %s\n" % (i, b"x" * (i % 17)) for i in range(3000))
    plain, packed = tmp_path / "c.txt", tmp_path / "c.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    for world in (2, 3):
        for rank in range(world):
            a = b"".join(rank_share([str(plain)], rank, world, block=997))
            b = b"".join(rank_share([str(packed)], rank, world, block=997, chunk_bytes=4096))
            assert a == b and a


def test_shares_are_balanced_by_bytes_not_files(tmp_path):
    """Two files of very different sizes (as the bench corpus: 5.2M and 3.5M
    tokens) still split evenly: within one block, with the default block."""
    big = b"".join(b"w%d " % i * 7 + b"\n" for i in range(20000))
    small = big[:big.index(b"\n", len(big) // 3) + 1]
    paths = [tmp_path / "big.txt", tmp_path / "small.txt.gz"]
    paths[0].write_bytes(big)
    paths[1].write_bytes(gzip.compress(small))
    block = block_bytes([p.stat().st_size for p in paths], 2)
    sizes = [len(b"".join(rank_share(paths, r, 2))) for r in range(2)]
    assert sum(sizes) == len(big) + len(small)
    assert abs(sizes[0] - sizes[1]) <= block + 200  # one block, plus a line at each cut


def test_block_bytes_and_owner():
    assert block_bytes([100], 2) == 1
    assert block_bytes([64 * 2 * 1000], 2) == 1000
    assert block_bytes([1 << 40], 8) == 1 << 20
    assert owner_of(0, 10, 3) == 0 and owner_of(10, 10, 3) == 1 and owner_of(35, 10, 3) == 0
    with pytest.raises(ValueError, match="world_size"):
        block_bytes([1], 0)


def test_bad_rank_and_damaged_input(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"a\nb\n")
    with pytest.raises(ValueError, match="rank must be in"):
        list(rank_share([str(path)], 2, 2))
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"a b c\n" * 1000)[:-30])
    with pytest.raises(ValueError, match="damaged gzip"):
        list(rank_share([str(broken)], 0, 2))


def test_fingerprint_tells_files_apart(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_bytes(b"x" * 200_000)
    b.write_bytes(b"x" * 199_999 + b"y")
    c.write_bytes(b"x" * 200_000)
    assert files_fingerprint([a]) == files_fingerprint([c]) != files_fingerprint([b])
    assert files_fingerprint(a) != files_fingerprint([a, a])


@given(data=st.binary(max_size=300).map(lambda b: b.replace(b"\x00", b"x")),
       newlines=st.integers(0, 40), block=st.integers(1, 50), piece=st.integers(1, 50),
       seed=st.integers(0, 1000))
def test_line_cuts_and_whole_line_chunks(tmp_path_factory, data, newlines, block, piece, seed):
    """Both cut a file into runs of whole lines that put back give the file:
    a range or chunk starts at a line start and ends after a newline (or at
    the end of the file), none is empty, in order."""
    import io
    import random
    from embforge.io.line_ranges import line_cuts, whole_line_chunks
    chars = list(data)
    rng = random.Random(seed)
    for _ in range(newlines):
        chars.insert(rng.randint(0, len(chars)), 10)
    data = bytes(chars)
    path = tmp_path_factory.mktemp("c") / "f"
    path.write_bytes(data)
    starts = {0} | {i + 1 for i, b in enumerate(data) if b == 10}
    with open(path, "rb") as f:
        cuts = line_cuts(f, len(data), block)
    chunks = list(whole_line_chunks(io.BytesIO(data), piece))
    assert b"".join(data[a:e] for a, e in cuts) == data == b"".join(chunks)
    for a, e in cuts:
        assert a in starts and a < e and (e == len(data) or e in starts)
    for chunk in chunks[:-1]:
        assert chunk.endswith(b"\n")
    assert all(chunks)
    # rank_share's rule: a range ends at the first line start at or after
    # each multiple of `block` it crosses (so ranges are about `block` long)
    for a, e in cuts:
        for m in range(-(-(a + 1) // block) * block, e, block):
            assert min(s for s in starts | {len(data)} if s >= m) == e
