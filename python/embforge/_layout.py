"""The layout of every vector buffer embforge allocates: the words' rows, then spare rows.

Trainers, readers and ``KeyedVectors`` keep ``SPARE_ROWS`` zero rows after
the words, so the PyTorch bridge can put ``<pad>`` and ``<unk>`` there and
hand out an Embedding that shares the vectors' memory instead of copying it.
A leaf module (it imports nothing) so that every layer can use it.
"""

__all__ = ["SPARE_ROWS"]

SPARE_ROWS = 2
