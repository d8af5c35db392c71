#include "embforge/corpus.h"

#include <algorithm>
#include <array>

#include "embforge/check.h"
#include "utf8.h"

namespace embforge {
namespace {

enum ByteClass : uint8_t { kToken = 0, kSpace = 1, kNewline = 2, kNul = 3 };

constexpr std::array<uint8_t, 256> make_byte_classes() {
  std::array<uint8_t, 256> classes{};
  classes[' '] = classes['\t'] = classes['\r'] = classes['\v'] = classes['\f'] = kSpace;
  classes['\n'] = kNewline;
  classes[0] = kNul;
  return classes;
}
constexpr auto kByteClass = make_byte_classes();

inline uint8_t byte_class(char c) { return kByteClass[static_cast<uint8_t>(c)]; }

std::string printable_prefix(std::string_view w) {
  std::string out;
  for (char c : w.substr(0, 40)) {
    const auto u = static_cast<uint8_t>(c);
    if (u >= 0x20 && u < 0x7F) {
      out += c;
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  if (w.size() > 40) out += "...";
  return out;
}

}  // namespace

CorpusBuilder::CorpusBuilder(const CorpusBuilderParams& params) : params_(params) {
  EMBFORGE_CHECK(params_.max_sentence_length >= 1,
                 "max_sentence_length must be >= 1, got ", params_.max_sentence_length);
  EMBFORGE_CHECK(params_.max_token_bytes >= 1,
                 "max_token_bytes must be >= 1, got ", params_.max_token_bytes);
  EMBFORGE_CHECK(params_.memory_limit >= 0, "memory_limit must be >= 0 (0: no limit), got ",
                 params_.memory_limit);
  EMBFORGE_CHECK(params_.memory_limit == 0 || !params_.spill_dir.empty(),
                 "memory_limit=", params_.memory_limit, " needs a spill_dir for the files");
  if (!params_.stream_path.empty()) {
    ids_.move_to(SpillFile::named(params_.stream_path));
    if (!params_.spill_dir.empty()) line_ends_.move_to(SpillFile::temporary(params_.spill_dir));
  }
}

CorpusBuilder::~CorpusBuilder() = default;

void CorpusBuilder::set_vocabulary(const std::vector<std::string>& words) {
  EMBFORGE_CHECK(table_.size() == 0 && raw_tokens_ == 0,
                 "set_vocabulary must be called before any text is fed");
  EMBFORGE_CHECK(!words.empty(), "the fixed vocabulary is empty");
  for (const auto& w : words) {
    bool inserted = false;
    table_.insert(w, &inserted);
    EMBFORGE_CHECK(inserted, "duplicate word in vocabulary: '", printable_prefix(w), "'");
  }
  fixed_vocab_ = true;
}

void CorpusBuilder::append_id(uint32_t id) {
  if (!params_.count_only) {
    // Near the budget the array grows up to it rather than doubling past it
    // (a part of a 2-thread encode otherwise spilled at 4M ids: 16 MB doubled
    // against its 31 MB).
    if (ids_.full() && over_limit(ids_.grown_bytes(), line_ends_.memory_bytes()) &&
        !ids_.grow_within(room_beside(line_ends_.memory_bytes())))
      spill();
    ids_.push_back(id);
  }
  ++n_ids_;
}

bool CorpusBuilder::over_limit(size_t ids_bytes, size_t line_ends_bytes) const {
  return params_.memory_limit > 0 &&
         ids_bytes + line_ends_bytes > static_cast<size_t>(params_.memory_limit);
}

size_t CorpusBuilder::room_beside(size_t other_bytes) const {
  const auto limit = static_cast<size_t>(params_.memory_limit);
  return limit > other_bytes ? limit - other_bytes : 0;
}

void CorpusBuilder::spill() {
  // What is in memory is written once and freed: the stream is never held
  // twice, in memory and in the file.
  if (!ids_.in_file()) ids_.move_to(SpillFile::temporary(params_.spill_dir));
  if (!line_ends_.in_file()) line_ends_.move_to(SpillFile::temporary(params_.spill_dir));
}

void CorpusBuilder::end_line() {
  if (params_.count_only || n_ids_ == last_line_end_) return;
  if (line_ends_.full() && over_limit(ids_.memory_bytes(), line_ends_.grown_bytes()) &&
      !line_ends_.grow_within(room_beside(ids_.memory_bytes())))
    spill();
  line_ends_.push_back(n_ids_);
  last_line_end_ = n_ids_;
}

void CorpusBuilder::token_too_long(std::string_view text, int64_t offset) const {
  throw_invalid_argument("a token of more than ", params_.max_token_bytes,
                         " bytes starts at byte ", offset, " ('", printable_prefix(text),
                         "'); is this a text corpus?");
}

// Called once per token: kept small enough to be inlined (the error is out of
// line), and the slot filled field by field: building a Token and copying it
// made the compiler write it to the stack and read it back in wider loads,
// which stalled on store forwarding (an eighth of the counting time measured).
inline void CorpusBuilder::push_token(std::string_view text, int64_t offset) {
  if (static_cast<int64_t>(text.size()) > params_.max_token_bytes) [[unlikely]]
    token_too_long(text, offset);
  Token& t = batch_[batch_size_++];
  t.text = text;
  t.offset = offset;
  t.ends_line = false;
  if (batch_size_ == kBatch) flush_batch();
}

void CorpusBuilder::mark_line_end() {
  if (batch_size_ > 0) {
    batch_[batch_size_ - 1].ends_line = true;
  } else {
    end_line();
  }
}

void CorpusBuilder::flush_batch() {
  for (int k = 0; k < batch_size_; ++k) {
    Token& t = batch_[k];
    t.hash = hash_bytes(t.text.data(), t.text.size());
    table_.prefetch(t.hash);
  }
  for (int k = 0; k < batch_size_; ++k) {
    const Token& t = batch_[k];
    ++raw_tokens_;
    uint32_t id;
    if (fixed_vocab_) {
      id = table_.find(t.text, t.hash);
      if (id == WordTable::kNotFound) {
        ++dropped_tokens_;
        if (t.ends_line) end_line();
        continue;
      }
    } else {
      bool inserted = false;
      id = table_.insert(t.text, t.hash, &inserted);
      if (inserted) {
        const size_t bad = utf8_invalid_at(t.text.data(), t.text.size());
        EMBFORGE_CHECK(bad == t.text.size(), "invalid UTF-8 at byte ",
                       t.offset + static_cast<int64_t>(bad), " of the corpus, in token '",
                       printable_prefix(t.text), "'");
      }
    }
    ++table_.count(id);
    if (params_.count_only) {
      ++n_ids_;  // nothing to store: no call per token
    } else {
      append_id(id);
    }
    if (t.ends_line) end_line();
  }
  batch_size_ = 0;
}

void CorpusBuilder::feed(const char* data, size_t size) {
  EMBFORGE_CHECK(!finished_, "feed() after finish()");
  const int64_t base = bytes_read_;
  bytes_read_ += static_cast<int64_t>(size);
  auto nul_error = [&](size_t i) {
    throw_invalid_argument("NUL byte at byte ", base + static_cast<int64_t>(i),
                           " of the corpus; is this a text file?");
  };

  size_t i = 0;
  if (!pending_.empty()) {  // finish the token cut by the previous chunk
    while (i < size && byte_class(data[i]) == kToken) ++i;
    if (i < size && byte_class(data[i]) == kNul) nul_error(i);
    pending_.append(data, i);
    const int64_t start = base + static_cast<int64_t>(i) - static_cast<int64_t>(pending_.size());
    EMBFORGE_CHECK(static_cast<int64_t>(pending_.size()) <= params_.max_token_bytes,
                   "a token of more than ", params_.max_token_bytes, " bytes starts at byte ",
                   start, " ('", printable_prefix(pending_), "'); is this a text corpus?");
    if (i == size) return;
    push_token(pending_, start);
    flush_batch();  // pending_ is reused below
    pending_.clear();
  }
  while (i < size) {
    const uint8_t cls = byte_class(data[i]);
    if (cls == kSpace) { ++i; continue; }
    if (cls == kNewline) { mark_line_end(); ++i; continue; }
    if (cls == kNul) nul_error(i);
    const size_t start = i;
    while (i < size && byte_class(data[i]) == kToken) ++i;
    if (i == size) {
      pending_.assign(data + start, size - start);
      EMBFORGE_CHECK(static_cast<int64_t>(pending_.size()) <= params_.max_token_bytes,
                     "a token of more than ", params_.max_token_bytes, " bytes starts at byte ",
                     base + static_cast<int64_t>(start), "; is this a text corpus?");
      break;
    }
    if (byte_class(data[i]) == kNul) nul_error(i);
    push_token(std::string_view(data + start, i - start), base + static_cast<int64_t>(start));
  }
  flush_batch();  // the batch points into `data`, which the caller may free
  check_vocab_memory();
}

void CorpusBuilder::check_vocab_memory() const {
  check_table_memory(table_, params_.vocab_memory_limit, bytes_read_);
}

void CorpusBuilder::check_table_memory(const WordTable& table, int64_t vocab_memory_limit,
                                       int64_t bytes_read) {
  if (vocab_memory_limit <= 0) return;
  // The table starts at about 2 MB (its first slots and arena block): a
  // smaller budget (the co-occurrence tests' 64 KiB) counts as 4 MB.
  constexpr int64_t kSmallestBudget = int64_t{4} << 20;
  const size_t used = table.memory_bytes();
  const int64_t limit = std::max(vocab_memory_limit, kSmallestBudget);
  if (used <= static_cast<size_t>(limit)) return;
  throw_invalid_argument(
      "counting the vocabulary needs more than its memory budget of ", limit,
      " bytes: ", table.size(), " distinct words after ", bytes_read, " bytes of text take ",
      used, " bytes (about ", used / std::max<size_t>(1, table.size()),
      " a word), and every word is counted exactly before min_count applies; give a larger "
      "memory budget (memory=) or a smaller corpus");
}

void CorpusBuilder::end_text() {
  if (!pending_.empty()) {
    feed(" ", 1);  // terminates the last token through the normal path
    bytes_read_ -= 1;
  }
  end_line();
}

void CorpusBuilder::finish(const VocabLimits& limits) {
  EMBFORGE_CHECK(!finished_, "finish() called twice");
  EMBFORGE_CHECK(limits.min_count >= 0, "min_count must be >= 0, got ", limits.min_count);
  EMBFORGE_CHECK(limits.max_vocab_size >= 0, "max_vocab_size must be >= 0 (0: no limit), got ",
                 limits.max_vocab_size);
  end_text();
  finished_ = true;
  EMBFORGE_CHECK(raw_tokens_ > 0, "the corpus is empty: no tokens in ", bytes_read_, " bytes");

  if (fixed_vocab_) {
    keep_fixed_vocabulary();
    check_fixed_vocabulary_used();
    if (!params_.count_only) remap_and_chunk(nullptr);
    return;
  }
  const std::vector<uint32_t> remap = final_vocabulary(limits);
  if (params_.count_only) {
    count_dropped_without_stream();
    return;
  }
  remap_and_chunk(&remap);
}

void CorpusBuilder::keep_fixed_vocabulary() {
  final_words_.reserve(table_.size());
  for (uint32_t id = 0; id < table_.size(); ++id) final_words_.push_back(table_.word(id));
  final_counts_ = table_.counts();
}

void CorpusBuilder::check_fixed_vocabulary_used() const {
  EMBFORGE_CHECK(n_ids_ > 0, "no token of the corpus is in the vocabulary (", raw_tokens_,
                 " tokens read)");
}

void CorpusBuilder::count_dropped_without_stream() {
  // Without a stream the kept tokens are the final words' counts.
  n_ids_ = 0;
  for (const int64_t c : final_counts_) n_ids_ += c;
  dropped_tokens_ = raw_tokens_ - n_ids_;
}

std::vector<uint32_t> CorpusBuilder::final_vocabulary(const VocabLimits& limits) {
  const int64_t min_count = std::max<int64_t>(limits.min_count, 1);
  std::vector<uint32_t> order;
  for (uint32_t id = 0; id < table_.size(); ++id)
    if (table_.counts()[id] >= min_count) order.push_back(id);
  if (order.empty()) {
    uint32_t best = 0;
    for (uint32_t id = 1; id < table_.size(); ++id)
      if (table_.counts()[id] > table_.counts()[best]) best = id;
    throw_invalid_argument("no word occurs at least min_count=", min_count, " times (",
                           table_.size(), " distinct words; the most frequent, '",
                           printable_prefix(table_.word(best)), "', occurs ",
                           table_.counts()[best], " times)");
  }
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const int64_t ca = table_.counts()[a], cb = table_.counts()[b];
    if (ca != cb) return ca > cb;
    return table_.word(a) < table_.word(b);  // byte order, as GloVe's vocab_count
  });
  if (limits.max_vocab_size > 0 && static_cast<int64_t>(order.size()) > limits.max_vocab_size)
    order.resize(limits.max_vocab_size);

  std::vector<uint32_t> remap(table_.size(), WordTable::kNotFound);
  final_words_.reserve(order.size());
  final_counts_.reserve(order.size());
  for (uint32_t rank = 0; rank < order.size(); ++rank) {
    remap[order[rank]] = rank;
    final_words_.push_back(table_.word(order[rank]));
    final_counts_.push_back(table_.counts()[order[rank]]);
  }
  return remap;
}

void CorpusBuilder::remap_and_chunk(const std::vector<uint32_t>* remap) {
  // The offsets (at most one per line plus one per max_sentence_length ids)
  // are made while the line ends are still held: in memory only if both fit.
  const int64_t n_lines = line_ends_.size();
  const auto most_offsets =
      static_cast<size_t>(n_lines + n_ids_ / params_.max_sentence_length + 1) * sizeof(int64_t);
  if (!ids_.in_file() && over_limit(ids_.memory_bytes(), line_ends_.memory_bytes() + most_offsets))
    spill();
  if (ids_.in_file() && !params_.spill_dir.empty())
    offsets_.move_to(SpillFile::temporary(params_.spill_dir));

  // In-place rewrite: the write position never passes the read position.
  uint32_t* stream = ids_.data(/*writable=*/true);
  const int64_t* line_ends = line_ends_.data(/*writable=*/false);
  offsets_.push_back(0);
  int64_t write = 0, read = 0;
  for (int64_t line = 0; line < n_lines; ++line) {
    const int64_t line_end = line_ends[line];
    int64_t in_sentence = 0;
    for (; read < line_end; ++read) {
      uint32_t id = stream[read];
      if (remap) {
        id = (*remap)[id];
        if (id == WordTable::kNotFound) {
          ++dropped_tokens_;
          continue;
        }
      }
      stream[write++] = id;
      if (++in_sentence == params_.max_sentence_length) {
        offsets_.push_back(write);
        in_sentence = 0;
      }
    }
    if (in_sentence > 0) offsets_.push_back(write);
  }
  n_ids_ = write;
  ids_.truncate(n_ids_);
  offsets_.flush();
  line_ends_ = SpillArray<int64_t>();
}

}  // namespace embforge
