// Sorted runs of co-occurrence entries, in memory or spilled to temporary
// files, and their k-way merge.
//
// A run yields (key, value) in increasing key order, key = row * vocab_size +
// col (so key order is (row, col) order) and value the fixed-point sum
// (cooccur.h). In memory a run is the sorted buffer of pair updates it came
// from (cooccur_sort.h: key << distance_bits | d, a key once per update),
// summed per key as it is read: 8 bytes an update instead of 16 a key, and
// no pass to sum it when it is made. In a file it is RunEntry records, one per
// key. Spilled runs live in files that are removed when the Run is destroyed:
// on success, on an exception, and after Ctrl-C.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "embforge/malloc_array.h"

namespace embforge::cooc {

struct RunEntry {
  uint64_t key;
  uint64_t value;
};

// A temporary file of RunEntry records (internal format: raw native structs).
// No descriptor stays open between operations, so thousands of spilled runs
// never hit the open-files limit; only readers hold one.
class SpillFile {
 public:
  explicit SpillFile(std::string path);  // creates it, exclusively; FileError on failure
  ~SpillFile();                          // unlinks
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;

  void append(const RunEntry* entries, int64_t n);
  int64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // The key of every kIndexStride-th entry, kept in memory as the entries
  // are written (8 bytes per 16 KiB of run): a search reads one stretch of
  // the file instead of an entry per halving.
  static constexpr int64_t kIndexStride = 1024;
  const std::vector<uint64_t>& index() const { return index_; }

  // Sequential reads from the start of the file.
  class Reader {
   public:
    explicit Reader(const SpillFile& file);
    Reader(Reader&& other) noexcept;
    Reader& operator=(Reader&&) = delete;
    Reader(const Reader&) = delete;
    ~Reader();
    int64_t read(RunEntry* out, int64_t n);  // returns entries read (0 at the end)
    void seek(int64_t entry) { next_ = entry; }

   private:
    const SpillFile* file_;
    int fd_ = -1;
    int64_t next_ = 0;
  };

 private:
  std::string path_;
  int64_t size_ = 0;  // entries written
  std::vector<uint64_t> index_;  // index_[i] = key of entry i * kIndexStride
};

// Appends entries to a SpillFile through a small buffer.
class SpillWriter {
 public:
  SpillWriter(SpillFile& file, int64_t buffer_entries);
  ~SpillWriter() = default;  // call flush(); the destructor does not (it may throw)
  void push(uint64_t key, uint64_t value) {
    buffer_[used_++] = RunEntry{key, value};
    if (used_ == static_cast<int64_t>(buffer_.size())) flush();
  }
  void flush();

 private:
  SpillFile& file_;
  std::vector<RunEntry> buffer_;
  int64_t used_ = 0;
};

// A run held in memory: sorted pair updates, equal keys adjacent.
struct SortedUpdates {
  MallocArray<uint64_t> entries;     // [0, entries.size()): key << distance_bits | d
  int64_t keys = 0;                  // distinct keys among them
  int distance_bits = 0;
  const uint64_t* weight = nullptr;  // [window + 1]: w(d) in fixed point, owned by the count
  uint64_t key(int64_t i) const { return entries[i] >> distance_bits; }
  uint64_t value(int64_t i) const { return weight[entries[i] & ((uint64_t{1} << distance_bits) - 1)]; }
};

struct Run {
  SortedUpdates memory;               // the updates, when held in memory
  std::unique_ptr<SpillFile> file;    // or the file holding the summed entries
  // Entries: updates in memory (at least one per key), records in a file.
  int64_t size() const { return file ? file->size() : memory.entries.size(); }
  // Distinct keys: what the run adds to the result at most.
  int64_t keys() const { return file ? file->size() : memory.keys; }
  int64_t memory_bytes() const {
    return file ? 0 : memory.entries.size() * static_cast<int64_t>(sizeof(uint64_t));
  }
};

// The runs of one count, shared by the worker threads. Keeps runs in memory
// while they fit the run budget; otherwise the producer spills them.
class RunStore {
 public:
  RunStore(std::string directory, int64_t memory_budget)
      : directory_(std::move(directory)), memory_budget_(memory_budget) {}

  // Reserves memory for a run of `bytes`; false when it would pass the budget.
  bool reserve_memory(int64_t bytes);
  void add(Run run);
  std::unique_ptr<SpillFile> new_file();  // a fresh, uniquely named spill file

  std::vector<Run>& runs() { return runs_; }
  int64_t memory_bytes() const { return memory_used_; }
  // Moves in-memory runs to files, largest first, until at most `limit`
  // bytes of runs stay in memory.
  void spill_until(int64_t limit);
  int64_t spilled_runs() const { return spilled_runs_; }
  int64_t spilled_bytes() const { return spilled_bytes_; }
  void count_spill(int64_t entries);
  void release_memory(int64_t bytes) { memory_used_ -= bytes; }

 private:
  std::string directory_;
  int64_t memory_budget_;
  int64_t memory_used_ = 0;
  int64_t next_file_ = 0;
  int64_t spilled_runs_ = 0;
  int64_t spilled_bytes_ = 0;
  std::vector<Run> runs_;
  std::mutex mutex_;
};

// Entries [first, end) of a run (in memory: updates; a slice never splits a key's).
struct RunSlice {
  const Run* run;
  int64_t first;
  int64_t end;
};

// Index of the first entry of `run` whose key is >= key.
int64_t lower_bound(const Run& run, uint64_t key);

// Reads a run slice in key order, one entry per key, through a buffer: filled
// from the run's file, or by summing the updates of a run in memory.
class RunCursor {
 public:
  RunCursor(const RunSlice& slice, int64_t buffer_entries);
  bool done() const { return cur_ == end_; }
  uint64_t key() const { return cur_->key; }
  uint64_t value() const { return cur_->value; }
  void advance() {
    if (++cur_ == end_ && left_ > 0) refill();
  }

 private:
  void refill();
  std::unique_ptr<SpillFile::Reader> file_;
  const SortedUpdates* updates_ = nullptr;
  int64_t next_ = 0;  // in memory: the slice's next update
  std::vector<RunEntry> buffer_;
  int64_t left_ = 0;  // entries (file) or updates (memory) of the slice not yet read
  const RunEntry* cur_ = nullptr;
  const RunEntry* end_ = nullptr;
};

// K-way merge of runs: yields each key once with the values of all runs summed.
class RunMerger {
 public:
  RunMerger(const std::vector<RunSlice>& slices, int64_t buffer_entries_per_run);
  bool done() const { return heap_.empty(); }
  uint64_t key() const { return cursors_[heap_[0]].key(); }
  // The next key and its summed value; call only when !done().
  RunEntry pop();

 private:
  void sift_down(size_t i);
  std::vector<RunCursor> cursors_;
  std::vector<int> heap_;  // cursor indices, a min-heap on key
};

// Merges runs until at most `fan_in` remain, `fan_in` at a time into new
// spill files (the inputs are released as they are consumed). Returns the
// number of passes made.
int64_t reduce_run_count(RunStore& store, int fan_in, int64_t buffer_entries_per_run);

}  // namespace embforge::cooc
