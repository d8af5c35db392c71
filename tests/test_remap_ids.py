"""_core.remap_ids: re-encoding an id stream with another vocabulary without
the text, against a plain-Python oracle and against encode(text, vocab=...)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from embforge._native import core
from embforge.corpus import encode
from embforge.vocab import Vocabulary


def oracle(ids, offsets, mapping, max_sentence_length):
    out, dropped = [], 0
    for a, b in zip(offsets[:-1], offsets[1:]):
        kept = [mapping[i] for i in ids[a:b] if mapping[i] >= 0]
        dropped += (b - a) - len(kept)
        out += [kept[k:k + max_sentence_length] for k in range(0, len(kept), max_sentence_length)]
    return out, dropped


def sentences(ids, offsets):
    return [ids[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])]


@given(data=st.data(), vocab=st.integers(1, 20), new_vocab=st.integers(1, 25),
       max_sentence_length=st.integers(1, 8), in_place=st.booleans())
def test_remap_matches_oracle(data, vocab, new_vocab, max_sentence_length, in_place):
    ids = np.array(data.draw(st.lists(st.integers(0, vocab - 1), max_size=200)), np.uint32)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(ids)), max_size=10)))
    offsets = np.array([0, *cuts, len(ids)], np.int64)
    mapping = np.array(data.draw(st.lists(st.integers(-1, new_vocab - 1), min_size=vocab,
                                          max_size=vocab)), np.int64)
    expected, expected_dropped = oracle(ids.tolist(), offsets.tolist(), mapping.tolist(),
                                        max_sentence_length)
    source = ids.copy()
    new_ids, new_offsets, dropped = core.remap_ids(source, offsets, mapping,
                                                   max_sentence_length=max_sentence_length,
                                                   in_place=in_place)
    assert new_ids.dtype == np.uint32 and new_offsets.dtype == np.int64
    assert sentences(new_ids, new_offsets) == expected and dropped == expected_dropped
    assert new_offsets[0] == 0 and new_offsets[-1] == len(new_ids)
    if not in_place:
        assert np.array_equal(source, ids)  # input untouched
    else:
        assert np.shares_memory(new_ids, source) or len(new_ids) == 0


@given(lines=st.lists(st.lists(st.sampled_from("a b c d e f g h".split()), max_size=25),
                      min_size=1, max_size=20),
       keep=st.lists(st.sampled_from("a b c d e f g h z".split()), min_size=1, max_size=9,
                     unique=True),
       max_sentence_length=st.integers(1, 10))
def test_remapped_stream_is_the_stream_encode_gives_with_that_vocabulary(lines, keep,
                                                                        max_sentence_length):
    text = lines  # sentences as token lists
    if not any(w in keep for line in lines for w in line):
        return  # encode refuses a corpus with no token in the vocabulary
    target = Vocabulary(keep)
    direct = encode(text, vocab=target, max_sentence_length=max_sentence_length)
    whole = encode(text, min_count=1, max_sentence_length=10**9)  # every word, whole lines
    mapping = np.array([target.word_to_index.get(w, -1) for w in whole.vocab.words], np.int64)
    ids, offsets, dropped = core.remap_ids(whole.ids, whole.offsets, mapping,
                                           max_sentence_length=max_sentence_length)
    assert np.array_equal(ids, direct.ids) and np.array_equal(offsets, direct.offsets)
    assert dropped == direct.dropped_tokens


def test_bad_mappings_are_refused():
    ids, offsets = np.array([0, 3, 1], np.uint32), np.array([0, 3], np.int64)
    with pytest.raises(ValueError, match="id 3 at position 1 has no mapping"):
        core.remap_ids(ids, offsets, np.array([0, 1, 2], np.int64))
    with pytest.raises(ValueError, match=r"mapping\[2\] = -2 is not a new id"):
        core.remap_ids(ids, offsets, np.array([0, 1, -2, 0], np.int64))
    with pytest.raises(ValueError, match="max_sentence_length must be >= 1, got 0"):
        core.remap_ids(ids, offsets, np.zeros(4, np.int64), max_sentence_length=0)
    with pytest.raises(ValueError, match="mapping must have dtype int64"):
        core.remap_ids(ids, offsets, np.zeros(4, np.int32))
    readonly = ids.copy()
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="ids must be writable"):
        core.remap_ids(readonly, offsets, np.zeros(4, np.int64), in_place=True)
