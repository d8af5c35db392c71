// Counting and encoding on several threads: merging the parts (corpus.h).
//
// Why parts and a merge rather than one shared table: tokenising is bound by
// the table's cache misses, and a shared table would need a lock or atomic
// counts on every token. Each thread instead counts into its own table and
// writes its own provisional ids; the merge then costs one insert per
// distinct word per part (tens of thousands, not millions) plus one pass over
// the ids, which finish() makes anyway to apply the final vocabulary.
//
// Why the result equals one builder's: the parts were fed whole lines, so
// every line lies in one part, and the segments put the parts' lines back in
// the corpus's order. Counts are sums (order-free), the vocabulary is sorted
// by count then by bytes (no first-seen order survives), and the pass below
// drops, splits and offsets lines exactly as remap_and_chunk does.
#include <algorithm>
#include <atomic>
#include <numeric>

#include "embforge/check.h"
#include "embforge/corpus.h"
#include "embforge/parallel.h"

namespace embforge {

void CorpusBuilder::set_offset(int64_t offset) {
  EMBFORGE_CHECK(pending_.empty() && batch_size_ == 0,
                 "set_offset() inside a token: feed a part whole lines");
  EMBFORGE_CHECK(offset >= 0, "the offset must be >= 0, got ", offset);
  bytes_read_ = offset;
}

void CorpusBuilder::merge(const std::vector<CorpusBuilder*>& parts,
                          const std::vector<CorpusSegment>& segments,
                          const VocabLimits& limits) {
  EMBFORGE_CHECK(!finished_ && raw_tokens_ == 0, "merge() needs a fresh builder");
  EMBFORGE_CHECK(limits.min_count >= 0, "min_count must be >= 0, got ", limits.min_count);
  EMBFORGE_CHECK(limits.max_vocab_size >= 0, "max_vocab_size must be >= 0 (0: no limit), got ",
                 limits.max_vocab_size);
  EMBFORGE_CHECK(!parts.empty(), "merge() needs at least one part");
  const bool parts_fixed = parts[0] != nullptr && parts[0]->fixed_vocab_;
  for (size_t p = 0; p < parts.size(); ++p) {
    CorpusBuilder* part = parts[p];
    EMBFORGE_CHECK(part != nullptr && part != this && !part->finished_,
                   "part ", p, " is missing, finished, or the merging builder itself");
    // Parts that counted their own words may be merged into a fixed
    // vocabulary (a rank's share, read before the ranks agreed on one); parts
    // with a fixed vocabulary only into the same one.
    EMBFORGE_CHECK(part->fixed_vocab_ == parts_fixed && (fixed_vocab_ || !parts_fixed) &&
                       part->params_.count_only == params_.count_only,
                   "part ", p, " (fixed vocabulary: ", part->fixed_vocab_, ", count_only: ",
                   part->params_.count_only, ") cannot be merged into this builder (fixed "
                   "vocabulary: ", fixed_vocab_, ", count_only: ", params_.count_only,
                   ") beside part 0 (fixed vocabulary: ", parts_fixed, ")");
    EMBFORGE_CHECK(std::find(parts.begin(), parts.begin() + p, part) == parts.begin() + p,
                   "part ", p, " is given twice");
    part->end_text();  // a part fed a last line without its newline
    raw_tokens_ += part->raw_tokens_;
    dropped_tokens_ += part->dropped_tokens_;
    bytes_read_ = std::max(bytes_read_, part->bytes_read_);
  }
  finished_ = true;
  EMBFORGE_CHECK(raw_tokens_ > 0, "the corpus is empty: no tokens in ", bytes_read_, " bytes");

  // maps[p][part id] = final id (kNotFound: dropped); empty when the parts
  // had our fixed vocabulary, so that their ids are already final.
  std::vector<std::vector<uint32_t>> maps;
  if (parts_fixed) {
    for (size_t p = 0; p < parts.size(); ++p) {
      EMBFORGE_CHECK(parts[p]->table_.size() == table_.size(), "part ", p, " has ",
                     parts[p]->table_.size(), " words in its fixed vocabulary, the merge ",
                     table_.size());
      for (uint32_t id = 0; id < table_.size(); ++id) table_.count(id) += parts[p]->table_.counts()[id];
      n_ids_ += parts[p]->n_ids_;
    }
    keep_fixed_vocabulary();
    check_fixed_vocabulary_used();
    if (params_.count_only) return;  // tokens not in the vocabulary were dropped while read
    n_ids_ = 0;  // counted again as the ids are written
  } else if (fixed_vocab_) {
    // Each part's words found in ours; the others are dropped. No rank's
    // share need hold a word of the vocabulary: the caller checks that, on
    // every rank at once, rather than this rank alone failing here.
    maps.resize(parts.size());
    for (size_t p = 0; p < parts.size(); ++p) {
      add_counts(parts[p]->table_, &table_, &maps[p], /*insert=*/false);
      parts[p]->table_ = WordTable();
    }
    keep_fixed_vocabulary();
    if (params_.count_only) {
      count_dropped_without_stream();
      return;
    }
  } else {
    maps.resize(parts.size());
    // The first part's table becomes ours: its words keep their ids.
    table_ = std::move(parts[0]->table_);
    parts[0]->table_ = WordTable();
    maps[0].resize(table_.size());
    std::iota(maps[0].begin(), maps[0].end(), uint32_t{0});
    for (size_t p = 1; p < parts.size(); ++p) {
      add_counts(parts[p]->table_, &table_, &maps[p]);
      parts[p]->table_ = WordTable();  // its words are copied into ours
    }
    check_vocab_memory();
    const std::vector<uint32_t> remap = final_vocabulary(limits);
    for (auto& map : maps)
      for (auto& id : map) id = remap[id];
    if (params_.count_only) {
      count_dropped_without_stream();
      return;
    }
  }
  check_segments(parts, segments);
  if (parts.size() == 1 && params_.stream_path.empty()) {
    // One part: its stream is rewritten in place, as finish() rewrites a
    // builder's own, instead of being copied (which would hold it twice),
    // wherever it is: memory, temporary files, or the part's own
    // stream_path file. Its memory budget and spill files were ours (the
    // caller made it so).
    CorpusBuilder& part = *parts[0];
    ids_ = std::move(part.ids_);
    line_ends_ = std::move(part.line_ends_);
    n_ids_ = part.n_ids_;
    part.ids_ = SpillArray<uint32_t>();
    part.line_ends_ = SpillArray<int64_t>();
    remap_and_chunk(maps.empty() ? nullptr : &maps[0]);
    return;
  }
  int64_t n_kept = 0;
  for (const int64_t c : final_counts_) n_kept += c;
  write_segments(parts, segments, maps, n_kept);
}

void CorpusBuilder::add_counts(const WordTable& from, WordTable* into,
                               std::vector<uint32_t>* ids, bool insert) {
  if (ids) ids->resize(from.size());
  for (uint32_t id = 0; id < from.size(); ++id) {
    bool inserted = false;
    const uint32_t theirs = insert ? into->insert(from.word(id), from.hash(id), &inserted)
                                   : into->find(from.word(id), from.hash(id));
    if (theirs != WordTable::kNotFound) into->count(theirs) += from.counts()[id];
    if (ids) (*ids)[id] = theirs;
  }
}

WordTable CorpusBuilder::summed_counts(const std::vector<const CorpusBuilder*>& parts) {
  WordTable sum;
  int64_t bytes_read = 0;  // the text the parts read (as merge() counts it), for errors
  for (const CorpusBuilder* part : parts)
    if (part != nullptr) bytes_read = std::max(bytes_read, part->bytes_read_);
  for (size_t p = 0; p < parts.size(); ++p) {
    const CorpusBuilder* part = parts[p];
    EMBFORGE_CHECK(part != nullptr && !part->finished_ && !part->fixed_vocab_,
                   "part ", p, " is missing, finished, or has a fixed vocabulary");
    EMBFORGE_CHECK(part->pending_.empty(), "part ", p, " holds a token cut at its last chunk's "
                   "end: feed parts whole tokens");
    add_counts(part->table_, &sum, nullptr);
    check_table_memory(sum, parts[0]->params_.vocab_memory_limit, bytes_read);
  }
  return sum;
}

void CorpusBuilder::check_segments(const std::vector<CorpusBuilder*>& parts,
                                   const std::vector<CorpusSegment>& segments) const {
  // Every line of every part exactly once, each part's lines in its order
  // (a thread reads its chunks in the corpus's order).
  std::vector<int64_t> next_line(parts.size(), 0);
  for (size_t s = 0; s < segments.size(); ++s) {
    const CorpusSegment& seg = segments[s];
    EMBFORGE_CHECK(seg.part >= 0 && seg.part < static_cast<int64_t>(parts.size()), "segment ", s,
                   " names part ", seg.part, " of ", parts.size());
    EMBFORGE_CHECK(seg.first_line == next_line[seg.part] && seg.end_line >= seg.first_line &&
                       seg.end_line <= parts[seg.part]->n_lines(),
                   "segment ", s, " holds lines [", seg.first_line, ", ", seg.end_line,
                   ") of part ", seg.part, ", expected lines from ", next_line[seg.part],
                   " up to its ", parts[seg.part]->n_lines());
    next_line[seg.part] = seg.end_line;
  }
  for (size_t p = 0; p < parts.size(); ++p)
    EMBFORGE_CHECK(next_line[p] == parts[p]->n_lines(), "the segments leave lines ",
                   next_line[p], " to ", parts[p]->n_lines(), " of part ", p, " out");
}

void CorpusBuilder::write_segments(const std::vector<CorpusBuilder*>& parts,
                                   const std::vector<CorpusSegment>& segments,
                                   const std::vector<std::vector<uint32_t>>& maps,
                                   int64_t n_kept) {
  int64_t n_lines = 0;
  for (const CorpusSegment& seg : segments) n_lines += seg.end_line - seg.first_line;

  // Where the stream and offsets go, decided up front as remap_and_chunk does.
  const auto most_offsets =
      static_cast<size_t>(n_lines + n_kept / params_.max_sentence_length + 1) * sizeof(int64_t);
  if (!ids_.in_file() &&
      over_limit(static_cast<size_t>(n_kept) * sizeof(uint32_t), most_offsets))
    spill();
  if (ids_.in_file() && !params_.spill_dir.empty())
    offsets_.move_to(SpillFile::temporary(params_.spill_dir));

  offsets_.push_back(0);
  if (write_segments_in_parallel(parts, segments, maps, n_kept)) {
    for (CorpusBuilder* part : parts) {
      part->ids_ = SpillArray<uint32_t>();
      part->line_ends_ = SpillArray<int64_t>();
    }
    return;
  }
  // In memory the ids go straight into the array, sized once for all the
  // kept ids (the per-id checks of append_id took half of this pass).
  uint32_t* direct = ids_.in_file() || params_.count_only ? nullptr : ids_.reserve_tail(n_kept);
  int64_t written = 0;
  auto copy_line = [&](const uint32_t* ids, int64_t read, int64_t line_end, const uint32_t* map,
                       auto&& put) {
    int64_t in_sentence = 0;
    for (; read < line_end; ++read) {
      uint32_t id = ids[read];
      if (map) {
        id = map[id];
        if (id == WordTable::kNotFound) {
          ++dropped_tokens_;
          continue;
        }
      }
      put(id);
      if (++in_sentence == params_.max_sentence_length) {
        offsets_.push_back(n_ids_ + written);
        in_sentence = 0;
      }
    }
    if (in_sentence > 0) offsets_.push_back(n_ids_ + written);
  };
  for (const CorpusSegment& seg : segments) {
    if (seg.end_line == seg.first_line) continue;
    CorpusBuilder& part = *parts[seg.part];
    const uint32_t* ids = part.ids_.data(/*writable=*/false);
    const int64_t* ends = part.line_ends_.data(/*writable=*/false);
    const uint32_t* map = maps.empty() ? nullptr : maps[seg.part].data();
    int64_t read = seg.first_line == 0 ? 0 : ends[seg.first_line - 1];
    for (int64_t line = seg.first_line; line < seg.end_line; ++line) {
      const int64_t line_end = ends[line];
      if (direct) {
        copy_line(ids, read, line_end, map, [&](uint32_t id) {
          EMBFORGE_CHECK(written < n_kept, "the parts hold more kept ids than the vocabulary's ",
                         "counts, ", n_kept);
          direct[written++] = id;
        });
      } else {
        copy_line(ids, read, line_end, map, [&](uint32_t id) { append_id(id); });
      }
      read = line_end;
    }
  }
  if (direct) {
    EMBFORGE_CHECK(written == n_kept, "the parts hold ", written, " kept ids, the vocabulary's counts ",
                   n_kept);
    ids_.grew(written);
    n_ids_ += written;
  }
  for (CorpusBuilder* part : parts) {  // what the parts held is in ours now
    part->ids_ = SpillArray<uint32_t>();
    part->line_ends_ = SpillArray<int64_t>();
  }
  ids_.truncate(n_ids_);
  offsets_.flush();
}

// The pass above on one thread per part, when everything is in memory:
// 1. each part's thread maps its ids to final ids in place and counts the
//    ids each of its lines keeps;
// 2. one thread walks the segments in the corpus's order and gives each the
//    place of its first id and first sentence end in the result;
// 3. the threads take segments in turn and copy them there.
// The result is the same, id for id and offset for offset.
bool CorpusBuilder::write_segments_in_parallel(const std::vector<CorpusBuilder*>& parts,
                                               const std::vector<CorpusSegment>& segments,
                                               const std::vector<std::vector<uint32_t>>& maps,
                                               int64_t n_kept) {
  if (parts.size() < 2 || ids_.in_file() || offsets_.in_file() || params_.count_only) return false;
  for (const CorpusBuilder* part : parts)
    if (part->ids_.in_file() || part->line_ends_.in_file()) return false;
  const int threads = static_cast<int>(parts.size());
  const int64_t max_length = params_.max_sentence_length;

  std::vector<std::vector<int64_t>> kept(parts.size());  // [part][line]: ids the line keeps
  std::vector<int64_t> dropped(parts.size(), 0);
  run_workers(threads, nullptr, [&](int p) {
    CorpusBuilder& part = *parts[p];
    uint32_t* ids = part.ids_.data(/*writable=*/true);
    const int64_t* ends = part.line_ends_.data(/*writable=*/false);
    const uint32_t* map = maps.empty() ? nullptr : maps[p].data();
    kept[p].resize(static_cast<size_t>(part.n_lines()));
    int64_t read = 0;
    for (int64_t line = 0; line < part.n_lines(); ++line) {
      int64_t n = ends[line] - read;
      if (map) {
        for (; read < ends[line]; ++read) {
          ids[read] = map[ids[read]];
          n -= ids[read] == WordTable::kNotFound;
        }
      }
      read = ends[line];
      kept[p][line] = n;
      dropped[p] += ends[line] - (line == 0 ? 0 : ends[line - 1]) - n;
    }
  });

  // Where each segment's ids and sentence ends go.
  std::vector<int64_t> id_at(segments.size() + 1, 0), end_at(segments.size() + 1, 0);
  for (size_t s = 0; s < segments.size(); ++s) {
    const CorpusSegment& seg = segments[s];
    int64_t ids = 0, sentence_ends = 0;
    for (int64_t line = seg.first_line; line < seg.end_line; ++line) {
      const int64_t n = kept[seg.part][line];
      ids += n;
      sentence_ends += n == 0 ? 0 : (n - 1) / max_length + 1;  // no overflow at "no limit" (2^63 - 1)
    }
    id_at[s + 1] = id_at[s] + ids;
    end_at[s + 1] = end_at[s] + sentence_ends;
  }
  EMBFORGE_CHECK(id_at.back() == n_kept, "the parts hold ", id_at.back(),
                 " kept ids, the vocabulary's counts ", n_kept);
  uint32_t* out_ids = ids_.reserve_tail(n_kept);
  int64_t* out_ends = offsets_.reserve_tail(end_at.back());
  const int64_t base = n_ids_;

  std::vector<const uint32_t*> part_ids(parts.size());
  std::vector<const int64_t*> part_ends(parts.size());
  for (size_t p = 0; p < parts.size(); ++p) {
    part_ids[p] = parts[p]->ids_.data(/*writable=*/false);
    part_ends[p] = parts[p]->line_ends_.data(/*writable=*/false);
  }
  std::atomic<size_t> next{0};
  run_workers(threads, nullptr, [&](int) {
    for (size_t s = next++; s < segments.size(); s = next++) {
      const CorpusSegment& seg = segments[s];
      const uint32_t* ids = part_ids[seg.part];
      const int64_t* ends = part_ends[seg.part];
      int64_t at = id_at[s], end_slot = end_at[s];
      int64_t read = seg.first_line == 0 ? 0 : ends[seg.first_line - 1];
      for (int64_t line = seg.first_line; line < seg.end_line; ++line) {
        int64_t in_sentence = 0;
        for (; read < ends[line]; ++read) {
          if (ids[read] == WordTable::kNotFound) continue;
          out_ids[at++] = ids[read];
          if (++in_sentence == max_length) {
            out_ends[end_slot++] = base + at;
            in_sentence = 0;
          }
        }
        if (in_sentence > 0) out_ends[end_slot++] = base + at;
      }
    }
  });
  ids_.grew(n_kept);
  offsets_.grew(end_at.back());
  n_ids_ += n_kept;
  for (const int64_t d : dropped) dropped_tokens_ += d;
  return true;
}

}  // namespace embforge
