// Character n-grams of a word and their hash, as fastText defines them, shared
// by the CPU and CUDA code so that both put an n-gram in the same row.
//
// The n-grams of a word are the substrings of "<" word ">" of min_n..max_n
// characters, characters being UTF-8 sequences (a cut never splits one); the
// lone boundary markers "<" and ">" are not n-grams. They are enumerated by
// start position, then by length: the order fastText and gensim use. An
// n-gram's row is FNV-1a of its bytes, each byte taken as a *signed* char
// widened to 32 bits (fastText's choice, kept so that our rows match the rows
// of fastText's and gensim's models for non-ASCII text), modulo `bucket`.
#pragma once

#include <cstdint>

#include "embforge/hd.h"

namespace embforge::ft {

constexpr uint32_t kFnvOffset = 2166136261u;
constexpr uint32_t kFnvPrime = 16777619u;

// One byte into a running hash. The byte is sign-extended: a byte >= 0x80
// contributes 0xFFFFFFxx, not 0x000000xx.
EMBFORGE_HD uint32_t hash_step(uint32_t h, char byte) {
  h ^= static_cast<uint32_t>(static_cast<int32_t>(static_cast<signed char>(byte)));
  return h * kFnvPrime;
}

EMBFORGE_HD uint32_t hash_bytes(const char* bytes, int64_t n) {
  uint32_t h = kFnvOffset;
  for (int64_t i = 0; i < n; ++i) h = hash_step(h, bytes[i]);
  return h;
}

// UTF-8 continuation bytes (10xxxxxx) never start a character.
EMBFORGE_HD bool continues_character(char byte) {
  return (static_cast<unsigned char>(byte) & 0xC0u) == 0x80u;
}

// Byte p of "<" word ">" (the word has `len` bytes), without building it.
EMBFORGE_HD char bracketed_byte(const char* word, int64_t len, int64_t p) {
  return p == 0 ? '<' : (p == len + 1 ? '>' : word[p - 1]);
}

// Calls emit(begin, end, hash) for every n-gram of "<" word ">", where
// [begin, end) are byte positions in the bracketed word (0 is "<") and hash
// is hash_bytes of those bytes. Returns the number of n-grams.
template <typename Emit>
EMBFORGE_HD int64_t for_each_ngram(const char* word, int64_t len, int min_n, int max_n, Emit&& emit) {
  const int64_t total = len + 2;
  int64_t count = 0;
  for (int64_t i = 0; i < total; ++i) {
    if (continues_character(bracketed_byte(word, len, i))) continue;
    uint32_t h = kFnvOffset;
    int64_t j = i;
    for (int n = 1; j < total && n <= max_n; ++n) {
      h = hash_step(h, bracketed_byte(word, len, j++));
      while (j < total && continues_character(bracketed_byte(word, len, j)))
        h = hash_step(h, bracketed_byte(word, len, j++));
      // a single character at either end would be the marker alone
      if (n >= min_n && !(n == 1 && (i == 0 || j == total))) {
        emit(i, j, h);
        ++count;
      }
    }
  }
  return count;
}

// Rows (hash % bucket) of the word's n-grams written to out[0, capacity);
// returns how many there are (more than capacity means some were not written).
EMBFORGE_HD int64_t ngram_buckets(const char* word, int64_t len, int min_n, int max_n,
                                  uint32_t bucket, uint32_t* out, int64_t capacity) {
  int64_t k = 0;
  for_each_ngram(word, len, min_n, max_n, [&](int64_t, int64_t, uint32_t h) {
    if (k < capacity) out[k] = h % bucket;
    ++k;
  });
  return k;
}

}  // namespace embforge::ft
