"""Files embforge reads and writes, one module per job.

* atomic.py           atomic_write: a save is seen whole or not at all.
* line_ranges.py      one rank's share of corpus files, balanced by bytes
                      (blocks of the decompressed stream dealt round-robin).
* compression.py      the one opener for reading (gzip, bzip2 and xz recognised
                      by their magic bytes) and gzip output for ``.gz`` names.
* word2vec_format.py  word2vec text/binary and GloVe text vectors; the rows are
                      parsed by word2vec_text.py and word2vec_binary.py, the
                      header by word2vec_header.py.
* rows.py             vector storage as readers return it (SPARE_ROWS).
* vocab_file.py       the ``word count`` vocabulary file.
* native_kv.py        embforge's own ``.kv`` vectors file.
* archive.py          trainer archives (.npz of plain arrays).
* cooc_file.py        the co-occurrence archive, written in pieces and memory-mapped.

Every reader treats its input as untrusted: a malformed file is a ValueError
naming the file, the line or offset, and the offending value.
"""
