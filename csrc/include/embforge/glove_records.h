// glove.c's co-occurrence file: records of int32 word1, int32 word2, float64
// value (its CREC), little-endian, word ids 1-based, written from the COO
// arrays of a count without building the records in memory first.
#pragma once

#include <cstdint>
#include <string>

namespace embforge {

// Writes records for entries [0, n) of (rows, cols, values) (0-based ids) to
// `fd` at byte `offset` (pwrite: the descriptor's position does not move).
// Pieces are packed into one small buffer, reused: only the file's pages are
// new memory, where a records array would add 16 bytes a nonzero. Large
// writes at block-aligned offsets skip the page cache (direct I/O) where the
// filesystem allows it; returns whether every byte went that way. A failed
// write is a FileError naming `what`.
bool write_glove_records(int fd, int64_t offset, const int32_t* rows, const int32_t* cols,
                         const float* values, int64_t n, const std::string& what);

}  // namespace embforge
