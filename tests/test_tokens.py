"""The one-pass token check Vocabulary uses against the word-by-word one."""
from hypothesis import given, strategies as st

from embforge._tokens import all_tokens, is_token


@given(st.lists(st.one_of(st.text(max_size=6), st.integers(), st.none()), max_size=12))
def test_all_tokens_is_is_token_of_every_word(words):
    # separators, empty words, NUL inside words and non-str items included
    assert all_tokens(words) == all(is_token(w) for w in words)
    strings = [w + "\0x" for w in words if isinstance(w, str) and w]
    assert all_tokens(strings) == all(is_token(w) for w in strings)


def test_each_separator_is_found():
    for separator in " \t\n\r\v\f":
        assert not all_tokens(["a", f"b{separator}c", "d"])
    assert all_tokens(["a\u00a0b", "\u2009", "\x1c"])  # Unicode spaces are ordinary bytes of a token
