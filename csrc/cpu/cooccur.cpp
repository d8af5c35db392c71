// Co-occurrence counting on CPU threads (contract: embforge/cooccur.h).
//
// Each thread takes chunks of sentences in turn. A pair of two frequent
// words (rank product <= max_product) is added into the thread's dense table
// (cooccur_dense.h; triangular when symmetric: one update per pair); any
// other pair is appended as one uint64 to the thread's buffer
// (cooccur_sort.h). A full buffer is radix-sorted into a run: kept in memory
// as it is while the run budget allows (equal keys are summed as the merge
// reads them), summed into a spill file otherwise (cooccur_runs.h). At the
// end the dense tables are summed and merged, row by row and rows split among
// the threads, into the COO result (cooccur_merge.h): within a row the dense
// columns (b < limit[a]) all precede the sparse ones, whose values from every
// run are summed by column. Runs spilled past the merge's fan-in are first
// merged into fewer files.
//
// Memory budget (`memory_bytes` = B, T threads): a quarter for the dense
// tables but at most kMaxDenseBytes a thread (see there), a quarter for the
// pair buffers (8-byte updates plus the radix sort's scratch), the rest for
// runs held in memory. Before the merge the
// buffers are gone and the result (12 bytes per nonzero, at most the dense
// nonzeros plus the run entries) must fit next to the summed table, the runs
// left in memory and the file readers (at least B/8); if not, in-memory runs
// are spilled first, largest first. Fixed costs (20 bytes per word for the
// layout and the merge's row bounds, the write buffers, each merge thread's
// column sums: up to 520 KiB, 1/64 of B at most) are counted too. When
// the result alone crowds out the budget, the peak is the result + the
// summed table + B/8, reported in stats.planned_peak_bytes; with a
// result_dir such a result is written to files instead (cooccur.h), and the
// merge holds only a write buffer of 64Ki entries per thread (768 KiB; 1 MiB
// in fixed point).
#include "embforge/cooccur.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <chrono>
#include <vector>

#include "cooccur_dense.h"
#include "cooccur_merge.h"
#include "cooccur_runs.h"
#include "cooccur_sort.h"
#include "embforge/check.h"
#include "embforge/parallel.h"
#include "embforge/trim.h"

namespace embforge {
namespace {
using cooc::DenseLayout;
using cooc::Run;
using cooc::RunEntry;
using cooc::RunStore;

constexpr double kDenseShare = 0.25;
constexpr double kBufferShare = 0.25;
// A thread's dense table past a few times the last-level cache costs more
// than the buffered pairs it saves: every random update misses, and every
// page of it is a fresh page the kernel must zero. On gcide+kdocs (window 10,
// 2 threads, 1 GB) the whole count and write took 1.11-1.23 s with 36 MB a
// thread (max_product 1M), 1.13-1.18 s with 67 MB (2M) and 1.29-1.33 s with
// 125 MB (4M, the budget's quarter); 9-20 MB were slower again (1.27-1.41 s).
constexpr int64_t kMaxDenseBytes = int64_t{48} << 20;
constexpr int64_t kBytesPerBufferedUpdate = 2 * sizeof(uint64_t);  // entry + sort scratch
constexpr int64_t kWriterEntries = 4096;                           // 64 KiB spill writes at most
constexpr int64_t kReaderEntries = 1 << 16;                        // 1 MiB per merged run
constexpr int64_t kMinReaderEntries = 256;
constexpr int64_t kBytesPerResult = 2 * sizeof(int32_t) + sizeof(float);
constexpr int64_t kBytesPerFixedResult = 2 * sizeof(int32_t) + sizeof(int64_t);
constexpr int kMaxFanIn = 256;

struct Plan {
  int64_t max_product = 0;
  int64_t buffer_entries = 0;  // per thread
  int64_t writer_entries = 0;  // per thread, when a run goes straight to a file
  int64_t dense_bytes = 0;     // all threads
  int64_t buffer_bytes = 0;    // all threads
  int64_t fixed_bytes = 0;     // layout arrays, write buffers, the merge's column sums
  int64_t run_budget = 0;
  int column_window_bits = 0;
};

// The plan's parts that grow with the budget (up to their caps).
struct FixedParts {
  int64_t writer_entries;
  int column_window_bits;
  int64_t bytes;  // with the layout and the merge's per-row bounds
};

FixedParts fixed_parts(int64_t budget, int64_t vocab, int threads) {
  FixedParts f;
  f.writer_entries = std::clamp<int64_t>(
      budget / (16 * threads * static_cast<int64_t>(sizeof(RunEntry))), 16, kWriterEntries);
  // The merge's column sums: at most 1/64 of the budget.
  f.column_window_bits = std::clamp(
      static_cast<int>(std::bit_width(static_cast<uint64_t>(budget / (64 * 65 / 8 * threads)))) - 1,
      cooc::kMinColumnWindowBits, cooc::kMaxColumnWindowBits);
  // Layout (limit, offset) and the merge's per-row bounds: 20 bytes a word.
  f.bytes = threads * cooc::column_window_bytes(f.column_window_bits) +
            vocab * static_cast<int64_t>(sizeof(uint32_t) + 2 * sizeof(int64_t)) +
            threads * f.writer_entries * static_cast<int64_t>(sizeof(RunEntry));
  return f;
}

Plan plan_memory(const CooccurParams& p, int64_t vocab, int threads) {
  const int64_t budget = p.memory_bytes;
  Plan plan;
  const FixedParts fixed = fixed_parts(budget, vocab, threads);
  plan.writer_entries = fixed.writer_entries;
  plan.column_window_bits = fixed.column_window_bits;
  plan.fixed_bytes = fixed.bytes;
  plan.buffer_entries =
      static_cast<int64_t>(budget * kBufferShare) / (threads * kBytesPerBufferedUpdate);
  const int64_t needed = 2 * static_cast<int64_t>(p.window) + 2;  // one position's updates
  if (plan.buffer_entries < needed || plan.fixed_bytes >= budget / 4) {
    // The smallest budget that passes: the fixed parts grow with the budget
    // (to their caps), so the bound is raised until they fit at it.
    auto minimum = static_cast<int64_t>(std::ceil(
        needed * threads * kBytesPerBufferedUpdate / kBufferShare));
    minimum = std::max(minimum, kMinCooccurMemory);
    while (fixed_parts(minimum, vocab, threads).bytes >= minimum / 4)
      minimum = 4 * fixed_parts(minimum, vocab, threads).bytes + 4;
    EMBFORGE_CHECK(false, "memory budget of ", budget, " bytes is too small for window=", p.window,
                   ", workers=", threads, " and ", vocab, " words: give at least ", minimum,
                   " bytes");
  }
  if (p.max_product >= 0) {
    plan.max_product = p.max_product;
  } else {
    const int64_t thread_bytes =
        std::min(static_cast<int64_t>(budget * kDenseShare) / threads, kMaxDenseBytes);
    const int64_t cells = thread_bytes / static_cast<int64_t>(sizeof(uint64_t));
    plan.max_product = DenseLayout::largest_within(cells, vocab, p.symmetric);
  }
  plan.dense_bytes = threads * DenseLayout::cells_for(plan.max_product, vocab, p.symmetric) *
                     static_cast<int64_t>(sizeof(uint64_t));
  EMBFORGE_CHECK(plan.dense_bytes <= budget / 2, "max_product=", p.max_product, " needs ",
                 plan.dense_bytes, " bytes of dense tables, more than half the memory budget of ",
                 budget, " bytes");
  plan.buffer_bytes = threads * plan.buffer_entries * kBytesPerBufferedUpdate;
  plan.run_budget = std::max<int64_t>(0, budget - plan.dense_bytes - plan.buffer_bytes - plan.fixed_bytes);
  return plan;
}

struct Shared {
  const CooccurParams& params;
  const CorpusView& corpus;
  int64_t vocab;
  const DenseLayout& layout;
  const std::vector<uint64_t>& weight_fixed;  // [window + 1]: w(d) in fixed point
  int distance_bits;
  int key_bits;
  int64_t writer_entries;
  RunStore& store;
  Progress* progress;
};

struct Worker {
  cooc::DenseTable table;         // dense cells
  MallocArray<uint64_t> buffer;   // pending updates
  MallocArray<uint64_t> scratch;  // radix sort scratch
  int64_t used = 0;
  int64_t ids = 0, updates = 0, dense_updates = 0, runs = 0;
  bool stopped = false;
};

// Sorts the pending updates into a run: kept in memory as they are (the
// array holding them becomes the run and a new one takes its place, unless
// this is the thread's last run) if the budget allows, else summed straight
// into a spill file.
void flush(const Shared& s, Worker& w, bool last) {
  if (w.used == 0) return;
  const uint64_t* sorted = cooc::radix_sort(w.buffer.data(), w.scratch.data(), w.used,
                                            s.distance_bits, s.distance_bits + s.key_bits);
  Run run;
  if (s.store.reserve_memory(w.used * static_cast<int64_t>(sizeof(uint64_t)))) {
    // The merge's plan bounds the result by keys, not updates (several a key).
    run.memory.keys = cooc::count_keys(sorted, w.used, s.distance_bits);
    MallocArray<uint64_t>& holder = sorted == w.buffer.data() ? w.buffer : w.scratch;
    const int64_t capacity = holder.size();
    run.memory.entries = std::move(holder);
    run.memory.entries.resize(w.used);  // a part-filled array gives its tail back
    run.memory.distance_bits = s.distance_bits;
    run.memory.weight = s.weight_fixed.data();
    if (!last) holder = MallocArray<uint64_t>(capacity);
  } else {
    run.file = s.store.new_file();
    cooc::SpillWriter writer(*run.file, s.writer_entries);
    cooc::reduce_sorted(sorted, w.used, s.distance_bits, s.weight_fixed.data(),
                        [&](uint64_t key, uint64_t value) { writer.push(key, value); });
    writer.flush();
    s.store.count_spill(run.file->size());
  }
  s.store.add(std::move(run));
  w.used = 0;
  ++w.runs;
}

constexpr int64_t kPrefetchAhead = 2;
constexpr int64_t kChunksPerThread = 16;

void count_slice(const Shared& s, int64_t first_sentence, int64_t end_sentence, Worker& w) {
  const uint32_t* ids = s.corpus.ids;
  const int window = s.params.window;
  const bool symmetric = s.params.symmetric;
  const uint64_t vocab = static_cast<uint64_t>(s.vocab);
  const uint32_t* limit = s.layout.limit.data();
  const int64_t* offset = s.layout.offset.data();
  const uint64_t* weight = s.weight_fixed.data();
  const int dbits = s.distance_bits;
  uint64_t* __restrict table = w.table.data();
  uint64_t* __restrict buffer = w.buffer.data();
  int64_t dense_updates = 0, updates = 0;
  const int64_t room = w.buffer.size() - 2 * window;
  constexpr int64_t kReportEvery = 1 << 16;
  int64_t unreported = 0;

  for (int64_t sentence = first_sentence; sentence < end_sentence; ++sentence) {
    if (s.progress->stop_requested()) {
      w.stopped = true;
      break;
    }
    const int64_t begin = s.corpus.offsets[sentence], end = s.corpus.offsets[sentence + 1];
    for (int64_t i = begin; i < end; ++i)
      EMBFORGE_CHECK(ids[i] < vocab, "id ", ids[i], " at position ", i,
                     " is out of range for a vocabulary of ", vocab, " words");
    for (int64_t j = begin; j < end; ++j) {
      if (w.used > room) {
        flush(s, w, false);
        buffer = w.buffer.data();  // the filled array may have become the run
      }
      const uint32_t right = ids[j];
      const uint32_t right_limit = limit[right];
      const int64_t first = std::max(begin, j - window);
      if (symmetric && j + kPrefetchAhead < end) {
        // Cells of a later position start loading now: the table is far
        // larger than the caches and each update would otherwise wait.
        const int64_t later = j + kPrefetchAhead;
        const uint32_t target = ids[later];
        const uint32_t target_limit = limit[target];
        for (int64_t k = std::max(begin, later - window); k < later; ++k) {
          const uint32_t left = ids[k];
          if (left < target_limit)
            __builtin_prefetch(table + offset[std::min(left, target)] + std::max(left, target), 1);
        }
      }
      int64_t used = w.used;
      for (int64_t k = j - 1; k >= first; --k) {
        const uint32_t left = ids[k];
        const auto d = static_cast<uint64_t>(j - k);
        if (left < right_limit) {  // (left+1)(right+1) <= max_product
          if (symmetric) {
            table[offset[std::min(left, right)] + std::max(left, right)] += weight[d];
          } else {
            table[offset[left] + right] += weight[d];
          }
          ++dense_updates;
        } else {
          buffer[used++] = ((left * vocab + right) << dbits) | d;
          if (symmetric) buffer[used++] = ((right * vocab + left) << dbits) | d;
        }
      }
      updates += j - first;
      w.used = used;
    }
    w.ids += end - begin;
    unreported += end - begin;
    if (unreported >= kReportEvery) {
      s.progress->work_done.fetch_add(unreported, std::memory_order_relaxed);
      unreported = 0;
    }
  }
  s.progress->work_done.fetch_add(unreported, std::memory_order_relaxed);
  w.updates += updates * (symmetric ? 2 : 1);
  w.dense_updates += dense_updates * (symmetric ? 2 : 1);
}

// Adds every table into the first; returns the number of nonzeros the
// dense part will output (a triangular cell off the diagonal gives two).
int64_t sum_tables(std::vector<Worker>& workers, const DenseLayout& layout, Progress* progress) {
  const int threads = static_cast<int>(workers.size());
  const auto vocab = static_cast<int64_t>(layout.limit.size());
  std::vector<int64_t> outputs(threads, 0);
  run_workers(threads, progress, [&](int t) {
    // Rows by cells: row a's cells are [offset[a] + first column, + row_cells(a)).
    auto row_at_cell = [&](int64_t cell) {
      int64_t lo = 0, hi = vocab;
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        const int64_t start = layout.offset[mid] + (layout.triangular ? mid : 0);
        if (start < cell) lo = mid + 1; else hi = mid;
      }
      return lo;
    };
    const int64_t r0 = row_at_cell(layout.cells * t / threads);
    const int64_t r1 = t + 1 == threads ? vocab : row_at_cell(layout.cells * (t + 1) / threads);
    uint64_t* into = workers[0].table.data();
    int64_t n = 0;
    for (int64_t a = r0; a < r1; ++a) {
      const int64_t lo = layout.offset[a] + (layout.triangular ? a : 0);
      const int64_t hi = lo + layout.row_cells(a);
      for (int other = 1; other < threads; ++other) {
        const uint64_t* from = workers[other].table.data();
        for (int64_t i = lo; i < hi; ++i) into[i] += from[i];
      }
      int64_t nonzero = 0;
      for (int64_t i = lo; i < hi; ++i) nonzero += into[i] != 0;
      n += layout.triangular ? 2 * nonzero - (hi > lo && into[lo] != 0) : nonzero;
    }
    outputs[t] = n;
  });
  int64_t total = 0;
  for (int64_t n : outputs) total += n;
  return total;
}

void check_params(const CooccurParams& p, const CorpusView& corpus, int64_t vocab) {
  EMBFORGE_CHECK(p.window >= 1, "window must be >= 1, got ", p.window);
  EMBFORGE_CHECK(p.workers >= 1, "workers must be >= 1, got ", p.workers);
  EMBFORGE_CHECK(p.memory_bytes >= kMinCooccurMemory, "memory must be at least ", kMinCooccurMemory,
                 " bytes, got ", p.memory_bytes);
  EMBFORGE_CHECK(vocab >= 1 && vocab <= (int64_t{1} << 31) - 1,
                 "vocabulary size must be in [1, 2^31 - 1], got ", vocab);
  EMBFORGE_CHECK(p.max_product >= -1, "max_product must be >= -1, got ", p.max_product);
  EMBFORGE_CHECK(corpus.n_sentences >= 0 && (corpus.offsets || corpus.n_sentences == 0),
                 "corpus offsets must not be null");
  EMBFORGE_CHECK(!p.temp_dir.empty(), "temp_dir must name a directory for spilled runs");
  EMBFORGE_CHECK(p.glove_fd < 0 || (!p.fixed_point_output && !p.result_to_files),
                 "glove_fd writes the result as glove.c's records: fixed_point_output and "
                 "result_to_files must be False");
  // A buffered update packs the pair key and the distance into 64 bits.
  const auto key_bits =
      static_cast<int>(std::bit_width(static_cast<uint64_t>(vocab) * static_cast<uint64_t>(vocab) - 1));
  const auto distance_bits = static_cast<int>(std::bit_width(static_cast<uint64_t>(p.window)));
  EMBFORGE_CHECK(key_bits + distance_bits <= 64, "vocabulary of ", vocab, " words with window ",
                 p.window, " is too large: need vocab^2 * 2^bits(window) <= 2^64");
}

}  // namespace

namespace {

CooccurMatrix count(const CooccurParams& params, const CorpusView& corpus, int64_t vocab_size,
                    Progress* progress) {
  check_params(params, corpus, vocab_size);
  const auto started = std::chrono::steady_clock::now();
  auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  Progress local_progress;
  if (!progress) progress = &local_progress;
  progress->reset(corpus.n_ids);

  const int threads = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(params.workers, corpus.n_sentences)));
  const Plan plan = plan_memory(params, vocab_size, threads);
  const DenseLayout layout(plan.max_product, vocab_size, params.symmetric);
  const int fraction_bits = cooc::resolve_fraction_bits(params, corpus.n_ids);
  std::vector<uint64_t> weight_fixed(params.window + 1, 0);
  for (int d = 1; d <= params.window; ++d)
    weight_fixed[d] = cooc::to_fixed(cooc::pair_weight(d, params.distance_weighting), fraction_bits);

  RunStore store(params.temp_dir, plan.run_budget);
  const Shared shared{params,
                      corpus,
                      vocab_size,
                      layout,
                      weight_fixed,
                      static_cast<int>(std::bit_width(static_cast<uint64_t>(params.window))),
                      static_cast<int>(std::bit_width(static_cast<uint64_t>(vocab_size) *
                                                      static_cast<uint64_t>(vocab_size) - 1)),
                      plan.writer_entries,
                      store,
                      progress};

  // Chunks of sentences holding about equal numbers of ids, taken by the
  // threads in turn: the cost of an id depends on how many of its pairs are
  // dense, which changes along the corpus (a split in one range a thread
  // left one thread up to 0.08 s behind the other on gcide + kdocs).
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(corpus.n_sentences, threads * kChunksPerThread));
  std::vector<int64_t> first(chunks + 1, corpus.n_sentences);
  first[0] = 0;
  for (int64_t c = 1; c < chunks; ++c) {
    const int64_t target = corpus.n_ids * c / chunks;
    first[c] = std::lower_bound(corpus.offsets, corpus.offsets + corpus.n_sentences + 1, target) -
               corpus.offsets;
    first[c] = std::min(std::max(first[c], first[c - 1]), corpus.n_sentences);
  }

  std::vector<Worker> workers(threads);
  std::atomic<int64_t> next_chunk{0};
  run_workers(threads, progress, [&](int t) {
    Worker& w = workers[t];
    if (layout.cells > 0) w.table = cooc::DenseTable(layout.cells);
    w.buffer = MallocArray<uint64_t>(plan.buffer_entries);
    w.scratch = MallocArray<uint64_t>(plan.buffer_entries);
    for (int64_t c = next_chunk++; c < chunks && !w.stopped; c = next_chunk++)
      count_slice(shared, first[c], first[c + 1], w);
    if (!w.stopped) flush(shared, w, true);
    w.buffer = MallocArray<uint64_t>();
    w.scratch = MallocArray<uint64_t>();
  });

  const double count_seconds = seconds_since(started);
  const auto merge_started = std::chrono::steady_clock::now();
  CooccurMatrix out;
  CooccurStats& stats = out.stats;
  stats.max_product = plan.max_product;
  stats.dense_bytes = plan.dense_bytes;
  stats.buffer_bytes = plan.buffer_bytes;
  stats.fraction_bits = fraction_bits;
  for (const Worker& w : workers) {
    stats.ids_processed += w.ids;
    stats.pair_updates += w.updates;
    stats.dense_updates += w.dense_updates;
    stats.runs += w.runs;
    stats.stopped = stats.stopped || w.stopped;
  }
  int64_t peak = plan.dense_bytes + plan.buffer_bytes + plan.fixed_bytes + store.memory_bytes();
  if (stats.stopped) {
    out.rows = MallocArray<int32_t>(0);
    out.cols = MallocArray<int32_t>(0);
    out.values = MallocArray<float>(0);
    if (params.fixed_point_output) out.fixed = MallocArray<int64_t>(0);
    stats.planned_peak_bytes = peak;
    stats.count_seconds = count_seconds;
    return out;  // the runs' files go with `store`
  }

  int64_t dense_outputs = 0;
  if (layout.cells > 0) {
    dense_outputs = sum_tables(workers, layout, progress);
    for (int t = 1; t < threads; ++t) workers[t].table = cooc::DenseTable();
  }

  // The result must fit beside the summed table and the runs left in memory.
  cooc::MergeInput merge{&layout, layout.cells > 0 ? workers[0].table.data() : nullptr,
                         &store.runs(), vocab_size, fraction_bits, threads, kMinReaderEntries, "",
                         params.fixed_point_output};
  merge.column_window_bits = plan.column_window_bits;
  int64_t result_bound = dense_outputs;
  for (const Run& run : store.runs()) result_bound += run.keys();
  const int64_t table_bytes = layout.cells * static_cast<int64_t>(sizeof(uint64_t));
  // File runs are read through buffers: an eighth of the budget at least,
  // even when the result alone crowds it out (smaller reads only slow down).
  const int64_t reader_floor = params.memory_bytes / 8;
  // A result that does not fit goes to files when the caller allows it:
  // then only the merge threads' write buffers are held.
  int64_t result_bytes =
      result_bound * (params.fixed_point_output ? kBytesPerFixedResult : kBytesPerResult);
  const bool to_glove = params.glove_fd >= 0;
  const bool to_files = !to_glove && !params.result_dir.empty() &&
                        (params.result_to_files ||
                         table_bytes + result_bytes + plan.fixed_bytes + reader_floor > params.memory_bytes);
  if (to_files) {
    merge.result_dir = params.result_dir;
    result_bytes = threads * std::min(result_bound, cooc::kResultBufferEntries) *
                   (params.fixed_point_output ? kBytesPerFixedResult : kBytesPerResult);
  }
  if (to_glove) {
    // A piece's records a thread (their buffer may double once) within an
    // eighth of the budget, and the writer's two staging blocks.
    const auto record_bytes = static_cast<int64_t>(sizeof(GloveRecord));
    merge.piece_work = std::clamp<int64_t>(params.memory_bytes / (8 * threads * 2 * record_bytes),
                                           cooc::kMinPieceEntries, cooc::kPieceEntries);
    merge.progress = progress;
    result_bytes = threads * 2 * std::min(merge.piece_work, result_bound) * record_bytes +
                   GloveRecordWriter::kMemoryBytes;
  }
  const int64_t fixed = table_bytes + result_bytes + plan.fixed_bytes;
  if (fixed + store.memory_bytes() + reader_floor > params.memory_bytes)
    store.spill_until(std::max<int64_t>(0, params.memory_bytes - fixed - reader_floor));
  const int64_t reader_budget =
      std::max(params.memory_bytes - fixed - store.memory_bytes(), reader_floor);
  const int64_t entry_bytes = sizeof(RunEntry);
  const int fan_in = static_cast<int>(std::clamp<int64_t>(
      reader_budget / (threads * kMinReaderEntries * entry_bytes) - 1, 2, kMaxFanIn));
  const int64_t pass_entries =
      std::clamp<int64_t>(reader_budget / ((fan_in + 1) * entry_bytes), kMinReaderEntries, kReaderEntries);
  stats.merge_passes = cooc::reduce_run_count(store, fan_in, pass_entries);
  int64_t file_runs = 0;
  for (const Run& run : store.runs()) file_runs += run.file != nullptr;
  merge.reader_entries = std::clamp<int64_t>(
      reader_budget / (threads * std::max<int64_t>(1, file_runs) * entry_bytes), kMinReaderEntries,
      kReaderEntries);
  peak = std::max(peak, fixed + store.memory_bytes() + threads * file_runs * merge.reader_entries * entry_bytes);
  if (to_glove) {
    GloveRecordWriter writer(params.glove_fd, 0, params.glove_name);
    out.nnz = cooc::merge_to_glove(merge, writer);
    if (out.nnz < 0) {  // stopped: the caller discards the file
      out.nnz = 0;
      stats.stopped = true;
    } else {
      writer.finish();
    }
    out.rows = MallocArray<int32_t>(0);
    out.cols = MallocArray<int32_t>(0);
    out.values = MallocArray<float>(0);
  } else {
    cooc::merge_to_coo(merge, out);
  }
  stats.spilled_runs = store.spilled_runs();
  stats.spilled_bytes = store.spilled_bytes();
  stats.planned_peak_bytes = peak;
  stats.count_seconds = count_seconds;
  stats.merge_seconds = seconds_since(merge_started);
  return out;
}

}  // namespace

CooccurMatrix count_cooccurrences(const CooccurParams& params, const CorpusView& corpus,
                                  int64_t vocab_size, Progress* progress) {
  CooccurMatrix out = count(params, corpus, vocab_size, progress);
  release_free_memory();  // the tables, buffers and runs are gone now
  return out;
}

}  // namespace embforge
