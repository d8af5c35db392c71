#include "embforge/word_table.h"

#include "embforge/check.h"

namespace embforge {

uint32_t WordTable::add_word(std::string_view w, uint64_t h) {
  EMBFORGE_CHECK(words_.size() < kMaxWords, "vocabulary exceeds ", kMaxWords,
                 " distinct words (uint32 ids)");
  const uint32_t id = static_cast<uint32_t>(words_.size());
  words_.push_back(store(w));
  hashes_.push_back(h);
  counts_.push_back(0);
  return id;
}

std::string_view WordTable::store(std::string_view w) {
  if (w.size() > kBlockBytes / 4) {
    // Rare long words get a block of their own.
    blocks_.emplace_back(new char[w.size()]);
    std::memcpy(blocks_.back().get(), w.data(), w.size());
    return {blocks_.back().get(), w.size()};
  }
  if (block_used_ + w.size() > kBlockBytes) {
    blocks_.emplace_back(new char[kBlockBytes]);
    block_used_ = 0;
  }
  char* dst = blocks_.back().get() + block_used_;
  std::memcpy(dst, w.data(), w.size());
  block_used_ += w.size();
  return {dst, w.size()};
}

void WordTable::rehash(size_t n_slots) {
  slots_.assign(n_slots, Slot{});
  mask_ = n_slots - 1;
  for (uint32_t id = 0; id < words_.size(); ++id) {
    const uint64_t h = hashes_[id];
    size_t i = h & mask_;
    while (slots_[i].id_plus_1 != 0) i = (i + 1) & mask_;
    slots_[i] = make_slot(words_[id], h, id + 1);
  }
}

}  // namespace embforge
