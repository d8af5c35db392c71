// Re-encoding an id stream through a mapping (corpus.h: remap_ids).
#include <cstdint>

#include "embforge/check.h"
#include "embforge/corpus.h"

namespace embforge {

RemapResult remap_ids(const uint32_t* ids, const int64_t* offsets, int64_t n_sentences,
                      const int64_t* mapping, int64_t mapping_size, int64_t max_sentence_length,
                      uint32_t* out_ids, int64_t* out_offsets) {
  EMBFORGE_CHECK(max_sentence_length >= 1, "max_sentence_length must be >= 1, got ",
                 max_sentence_length);
  for (int64_t i = 0; i < mapping_size; ++i)
    EMBFORGE_CHECK(mapping[i] >= -1 && mapping[i] < int64_t{0xFFFFFFFF}, "mapping[", i, "] = ",
                   mapping[i], " is not a new id (0 to 2^32 - 2) or -1 (drop)");
  RemapResult r;
  out_offsets[0] = 0;
  int64_t write = 0;
  for (int64_t s = 0; s < n_sentences; ++s) {
    int64_t in_sentence = 0;
    for (int64_t read = offsets[s]; read < offsets[s + 1]; ++read) {
      const uint32_t id = ids[read];
      EMBFORGE_CHECK(id < mapping_size, "id ", id, " at position ", read, " has no mapping (",
                     mapping_size, " entries)");
      const int64_t mapped = mapping[id];
      if (mapped < 0) {
        ++r.dropped;
        continue;
      }
      out_ids[write++] = static_cast<uint32_t>(mapped);
      if (++in_sentence == max_sentence_length) {
        out_offsets[++r.n_sentences] = write;
        in_sentence = 0;
      }
    }
    if (in_sentence > 0) out_offsets[++r.n_sentences] = write;
  }
  r.n_ids = write;
  return r;
}

}  // namespace embforge
