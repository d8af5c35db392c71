// Vocabulary counting and corpus encoding: one pass over the text.
//
// Text arrives as byte chunks (files, .gz and Python iterables are all turned
// into bytes by the Python layer, which reads ahead on another thread). Tokens
// are separated by ASCII whitespace (word2vec.c / GloVe convention); '\n' ends a
// sentence. Each token gets a provisional id in first-seen order and is
// appended to the id stream at once, so the text is read only once; finish()
// then sorts the vocabulary (count descending, ties by byte order, as GloVe's
// vocab_count writes it), applies min_count / max_vocab_size, rewrites the stream
// with final ids (out-of-vocabulary tokens dropped and counted), and splits
// sentences longer than max_sentence_length into chunks.
//
// With a fixed vocabulary (encode a corpus with an existing Vocabulary) unknown
// tokens are dropped while reading and the ids are final from the start.
//
// The id stream lives in memory, or in a file that finish() rewrites in place
// through mmap, for corpora larger than RAM: a file named by the caller
// (`stream_path`), or, once the stream and its line ends outgrow
// `memory_limit`, temporary files in `spill_dir` (spill_array.h). The
// sentence offsets go to a temporary file too when the stream is in a file
// and `spill_dir` is given. Either way the ids and offsets are the same.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "embforge/spill_array.h"
#include "embforge/word_table.h"

namespace embforge {

struct CorpusBuilderParams {
  int64_t max_sentence_length = 10000;  // longer sentences are split, never cut
  int64_t max_token_bytes = 1 << 16;    // longer "tokens" mean binary input
  std::string stream_path;              // non-empty: the id stream goes to this file
  // Bytes the in-memory id stream and line ends may take before they move to
  // temporary files in spill_dir (0: no limit). With stream_path they are in
  // files from the start. Empty spill_dir: line ends and offsets stay in memory.
  int64_t memory_limit = 0;
  std::string spill_dir;
  // Bytes the table of distinct words may take while counting (0: no limit).
  // Counts must be exact before min_count applies (the distributed merge
  // relies on it), so nothing is pruned: past the limit feed() fails, naming
  // how far it got, instead of growing until the machine runs out of memory.
  int64_t vocab_memory_limit = 0;
  // Count words only: no id stream, no line ends (what a vocabulary file
  // needs); finish() still drops what min_count / max_vocab_size exclude and
  // counts those tokens in dropped_tokens.
  bool count_only = false;
};

struct VocabLimits {
  int64_t min_count = 5;       // keep words seen at least this often (>= 1)
  int64_t max_vocab_size = 0;  // keep at most this many (0: no limit)
};

// One run of whole lines that a part (a builder fed by one thread) read:
// its lines [first_line, end_line) in the part's own line numbering.
struct CorpusSegment {
  int64_t part = 0;
  int64_t first_line = 0;
  int64_t end_line = 0;
};

class CorpusBuilder {
 public:
  explicit CorpusBuilder(const CorpusBuilderParams& params);
  ~CorpusBuilder();
  CorpusBuilder(const CorpusBuilder&) = delete;
  CorpusBuilder& operator=(const CorpusBuilder&) = delete;

  // Fixes the vocabulary before feeding: ids are indices into `words`.
  void set_vocabulary(const std::vector<std::string>& words);

  // Consumes a chunk of text; a token or line cut by the chunk end continues
  // in the next chunk.
  void feed(const char* data, size_t size);

  // Ends the text, builds the final vocabulary (unless fixed) and stream.
  void finish(const VocabLimits& limits);

  // Several threads (corpus_merge.cpp). Each thread feeds its own builder (a
  // part) chunks of whole lines (of whole tokens when it only counts: lines
  // are not kept then), taken from anywhere in the corpus, calling
  // set_offset(where the chunk starts in the whole corpus) first so that
  // error messages name the corpus's byte, and noting n_lines() before and
  // after each chunk. merge(), on a fresh builder made with the caller's
  // parameters (and set_vocabulary if the parts had one), then does what
  // finish() does over the parts' lines taken in `segments` order (the
  // corpus's order): words counted in several parts are summed, and the
  // vocabulary, ids and offsets equal those of one builder fed the whole
  // text. Parts are not finished; they are left empty.
  //
  // Parts that counted their own words may also be merged into a builder
  // given a fixed vocabulary (limits unused): their tokens outside it are
  // dropped, as one builder with that vocabulary drops them. summed_counts
  // gives the words such parts counted, before merging: a rank of a
  // distributed job agrees on the vocabulary with the others in between,
  // and its share is read once.
  void set_offset(int64_t offset);
  int64_t n_lines() const { return line_ends_.size(); }
  void merge(const std::vector<CorpusBuilder*>& parts,
             const std::vector<CorpusSegment>& segments, const VocabLimits& limits);
  // The parts' words with their counts summed, within the first part's
  // vocab_memory_limit (in no particular order). The parts are read, not
  // changed, and must not be fed or merged meanwhile.
  static WordTable summed_counts(const std::vector<const CorpusBuilder*>& parts);

  // Results, valid after finish().
  const std::vector<std::string_view>& words() const { return final_words_; }
  const std::vector<int64_t>& counts() const { return final_counts_; }
  SpillArray<uint32_t>& ids() { return ids_; }
  SpillArray<int64_t>& offsets() { return offsets_; }       // n_sentences + 1
  bool spilled() const { return ids_.in_file(); }
  int64_t n_ids() const { return n_ids_; }
  int64_t raw_tokens() const { return raw_tokens_; }        // tokens read
  int64_t dropped_tokens() const { return dropped_tokens_; } // out of vocabulary
  int64_t bytes_read() const { return bytes_read_; }

 private:
  // Tokens are looked up in batches: hash all, prefetch their table slots,
  // then look each up (see WordTable::prefetch).
  struct Token {
    std::string_view text;
    int64_t offset;       // byte offset in the corpus, for error messages
    uint64_t hash;
    bool ends_line;       // a newline follows before the next token
  };
  static constexpr int kBatch = 32;
  void push_token(std::string_view text, int64_t offset);
  [[noreturn, gnu::cold, gnu::noinline]] void token_too_long(std::string_view text,
                                                             int64_t offset) const;
  void mark_line_end();
  void flush_batch();
  void check_vocab_memory() const;
  static void check_table_memory(const WordTable& table, int64_t vocab_memory_limit,
                                 int64_t bytes_read);
  void end_line();
  void append_id(uint32_t id);
  bool over_limit(size_t ids_bytes, size_t line_ends_bytes) const;
  // Bytes of the memory limit left beside an array of `other_bytes`.
  size_t room_beside(size_t other_bytes) const;
  void spill();
  void remap_and_chunk(const std::vector<uint32_t>* remap);
  void end_text();
  std::vector<uint32_t> final_vocabulary(const VocabLimits& limits);
  // The fixed vocabulary and the counts read become the result's.
  void keep_fixed_vocabulary();
  void check_fixed_vocabulary_used() const;
  // Adds the words and counts of `from` to `into`; `ids` (if given) gets
  // each word's id in `into`. `insert` false: only words `into` has are
  // counted, the others get WordTable::kNotFound (a fixed vocabulary).
  static void add_counts(const WordTable& from, WordTable* into, std::vector<uint32_t>* ids,
                         bool insert = true);
  void count_dropped_without_stream();
  void check_segments(const std::vector<CorpusBuilder*>& parts,
                      const std::vector<CorpusSegment>& segments) const;
  void write_segments(const std::vector<CorpusBuilder*>& parts,
                      const std::vector<CorpusSegment>& segments,
                      const std::vector<std::vector<uint32_t>>& maps, int64_t n_kept);
  bool write_segments_in_parallel(const std::vector<CorpusBuilder*>& parts,
                                  const std::vector<CorpusSegment>& segments,
                                  const std::vector<std::vector<uint32_t>>& maps, int64_t n_kept);

  CorpusBuilderParams params_;
  WordTable table_;
  bool fixed_vocab_ = false;

  std::string pending_;  // token bytes not yet terminated by whitespace
  Token batch_[kBatch];
  int batch_size_ = 0;
  SpillArray<uint32_t> ids_;            // the stream
  SpillArray<int64_t> line_ends_;       // stream position after each line
  int64_t last_line_end_ = 0;
  int64_t n_ids_ = 0;                   // ids written so far

  int64_t raw_tokens_ = 0;
  int64_t dropped_tokens_ = 0;
  int64_t bytes_read_ = 0;
  bool finished_ = false;

  std::vector<std::string_view> final_words_;
  std::vector<int64_t> final_counts_;
  SpillArray<int64_t> offsets_;
};

}  // namespace embforge
