// A hash table from words (byte strings) to dense uint32 ids, with counts.
//
// Open addressing with linear probing at load <= 1/2. A slot holds the id,
// the word's first 8 bytes, its length and 24 hash bits, so most probes are
// decided inside the slot: words of <= 8 bytes never touch their stored bytes
// (one cache miss per lookup instead of three, which is what bounds counting). Word bytes live in fixed-size arena blocks that never move, so the
// string_views handed out stay valid for the table's lifetime.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace embforge {

// Loads the n < 8 trailing bytes of a word as one zero-padded integer
// without a variable-length memcpy (a libc call): two overlapping loads.
inline uint64_t load_tail(const char* p, size_t n) {
  uint64_t lo = 0, hi = 0;
  if (n >= 4) {
    uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    lo = a;
    hi = static_cast<uint64_t>(b) << (8 * (n - 4));
    return lo | hi;
  }
  if (n == 0) return 0;
  lo = static_cast<uint8_t>(p[0]);
  lo |= static_cast<uint64_t>(static_cast<uint8_t>(p[n / 2])) << (8 * (n / 2));
  lo |= static_cast<uint64_t>(static_cast<uint8_t>(p[n - 1])) << (8 * (n - 1));
  return lo;
}

// The first 8 bytes of a word, zero-padded: for words of <= 8 bytes (most of
// them) this plus the length identifies the word without touching its bytes.
inline uint64_t load_prefix(const char* p, size_t n) {
  if (n >= 8) {
    uint64_t k;
    std::memcpy(&k, p, 8);
    return k;
  }
  return load_tail(p, n);
}

inline uint64_t hash_bytes(const char* p, size_t n) {
  // 8 bytes at a time, splitmix64-style mixing; quality is ample for words.
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
  while (n >= 8) {
    uint64_t k;
    std::memcpy(&k, p, 8);
    h = (h ^ k) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n > 0) h = (h ^ load_tail(p, n)) * 0x94d049bb133111ebull;
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h;
}

class WordTable {
 public:
  static constexpr uint32_t kNotFound = 0xFFFFFFFFu;
  static constexpr size_t kMaxWords = 0xFFFFFFF0u;

  WordTable() { rehash(1 << 16); }

  size_t size() const { return words_.size(); }
  // Bytes the table holds: slots, per-word arrays and the arena of word bytes.
  size_t memory_bytes() const {
    return slots_.capacity() * sizeof(Slot) +
           words_.capacity() * (sizeof(std::string_view) + sizeof(uint64_t) + sizeof(int64_t)) +
           blocks_.size() * kBlockBytes;
  }
  std::string_view word(uint32_t id) const { return words_[id]; }
  uint64_t hash(uint32_t id) const { return hashes_[id]; }  // hash_bytes(word(id))
  int64_t& count(uint32_t id) { return counts_[id]; }
  const std::vector<int64_t>& counts() const { return counts_; }

  // Id of `w`, or kNotFound.
  uint32_t find(std::string_view w) const { return find(w, hash_bytes(w.data(), w.size())); }
  // Id of `w`, inserting it (count 0) when new; `inserted` tells which.
  uint32_t insert(std::string_view w, bool* inserted) {
    return insert(w, hash_bytes(w.data(), w.size()), inserted);
  }
  // Brings the slot a word with hash `h` starts probing at into cache; callers
  // hash a batch of words and prefetch them all before looking any up, so the
  // cache misses of a batch overlap instead of queueing.
  void prefetch(uint64_t h) const { __builtin_prefetch(&slots_[h & mask_]); }

  // The same with the hash already computed (h = hash_bytes(w)).
  uint32_t find(std::string_view w, uint64_t h) const {
    const Slot probe = make_slot(w, h, 0);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.id_plus_1 == 0) return kNotFound;
      if (same_word(slot, probe, w)) return slot.id_plus_1 - 1;
    }
  }

  uint32_t insert(std::string_view w, uint64_t h, bool* inserted) {
    const Slot probe = make_slot(w, h, 0);
    size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.id_plus_1 == 0) break;
      if (same_word(slot, probe, w)) {
        *inserted = false;
        return slot.id_plus_1 - 1;
      }
    }
    *inserted = true;
    const uint32_t id = add_word(w, h);
    slots_[i] = make_slot(w, h, id + 1);
    if (2 * words_.size() > slots_.size()) rehash(2 * slots_.size());
    return id;
  }

 private:
  static constexpr size_t kBlockBytes = 1 << 20;

  struct Slot {
    uint64_t prefix = 0;      // first 8 bytes, zero-padded
    uint32_t meta = 0;        // min(length, 255) << 24 | 24 hash bits
    uint32_t id_plus_1 = 0;   // 0: empty slot
  };
  static Slot make_slot(std::string_view w, uint64_t h, uint32_t id_plus_1) {
    const uint32_t len = w.size() < 255 ? static_cast<uint32_t>(w.size()) : 255u;
    return {load_prefix(w.data(), w.size()),
            (len << 24) | static_cast<uint32_t>(h >> 40), id_plus_1};
  }
  bool same_word(const Slot& slot, const Slot& probe, std::string_view w) const {
    if (slot.meta != probe.meta || slot.prefix != probe.prefix) return false;
    return w.size() <= 8 || words_[slot.id_plus_1 - 1] == w;
  }

  uint32_t add_word(std::string_view w, uint64_t h);
  std::string_view store(std::string_view w);
  void rehash(size_t n_slots);

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  std::vector<std::string_view> words_;
  std::vector<uint64_t> hashes_;
  std::vector<int64_t> counts_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t block_used_ = kBlockBytes;
};

}  // namespace embforge
