"""The layout of every vector buffer embforge allocates: the words' rows, then spare rows.

Trainers, readers and ``KeyedVectors`` keep ``SPARE_ROWS`` zero rows after
the words, so the PyTorch bridge can put special tokens there and hand out an
Embedding that shares the vectors' memory instead of copying it. Four rows
hold what a language model needs (``<pad>``, ``<unk>``, ``<bos>``,
``<eos>``); the classifier uses the first two. Files written when there were
two spare rows load unchanged: no file stores the spare rows, readers add
them.
A leaf module (it imports nothing) so that every layer can use it.
"""

__all__ = ["SPARE_ROWS"]

SPARE_ROWS = 4
