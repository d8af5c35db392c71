#include "cooccur_runs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "cooccur_sort.h"
#include "embforge/cooccur.h"
#include "embforge/file_io.h"

namespace embforge::cooc {

namespace {

constexpr int64_t kSpillWriterEntries = 4096;  // 64 KiB writes
constexpr int64_t kSummedEntries = 1024;       // a run in memory is summed 16 KiB at a time

std::string describe(const std::string& path) { return "co-occurrence spill file '" + path + "'"; }

[[noreturn]] void throw_file_error(int error_number, const std::string& path, const char* action) {
  throw FileError(error_number, path,
                  std::string("cannot ") + action + " " + describe(path) + ": " + std::strerror(error_number));
}

}  // namespace

SpillFile::SpillFile(std::string path) : path_(std::move(path)) {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw_file_error(errno, path_, "create");
  ::close(fd);
}

SpillFile::~SpillFile() { ::unlink(path_.c_str()); }

void SpillFile::append(const RunEntry* entries, int64_t n) {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw_file_error(errno, path_, "open");
  try {
    write_at(fd, entries, static_cast<size_t>(n) * sizeof(RunEntry),
             size_ * static_cast<int64_t>(sizeof(RunEntry)), describe(path_));
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw_file_error(errno, path_, "write");  // NFS reports late errors here
  for (int64_t i = (kIndexStride - size_ % kIndexStride) % kIndexStride; i < n; i += kIndexStride)
    index_.push_back(entries[i].key);
  size_ += n;
}

SpillFile::Reader::Reader(const SpillFile& file) : file_(&file) {
  fd_ = ::open(file.path().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw_file_error(errno, file.path(), "open");
}

SpillFile::Reader::Reader(Reader&& other) noexcept
    : file_(other.file_), fd_(other.fd_), next_(other.next_) {
  other.fd_ = -1;
}

SpillFile::Reader::~Reader() {
  if (fd_ >= 0) ::close(fd_);
}

int64_t SpillFile::Reader::read(RunEntry* out, int64_t n) {
  n = std::min(n, file_->size() - next_);
  if (n <= 0) return 0;
  read_at(fd_, out, static_cast<size_t>(n) * sizeof(RunEntry),
          next_ * static_cast<int64_t>(sizeof(RunEntry)), describe(file_->path()));
  next_ += n;
  return n;
}

int64_t lower_bound(const Run& run, uint64_t key) {
  if (!run.file) {
    const SortedUpdates& u = run.memory;
    const uint64_t* first = u.entries.data();
    const uint64_t* last = first + u.entries.size();
    if (key > (~uint64_t{0} >> u.distance_bits)) return u.entries.size();  // past every key
    return std::lower_bound(first, last, key << u.distance_bits) - first;
  }
  // The answer lies in the stretch after the last indexed key below `key`:
  // one read of at most kIndexStride entries.
  const std::vector<uint64_t>& index = run.file->index();
  const auto above = std::lower_bound(index.begin(), index.end(), key) - index.begin();
  if (above == 0) return 0;  // the first key is >= key
  const int64_t first = (above - 1) * SpillFile::kIndexStride;
  const int64_t count = std::min(SpillFile::kIndexStride, run.file->size() - first);
  std::vector<RunEntry> stretch(static_cast<size_t>(count));
  SpillFile::Reader reader(*run.file);
  reader.seek(first);
  reader.read(stretch.data(), count);  // a short file is a FileError (EIO)
  return first + (std::lower_bound(stretch.begin(), stretch.end(), key,
                                   [](const RunEntry& e, uint64_t k) { return e.key < k; }) -
                  stretch.begin());
}

SpillWriter::SpillWriter(SpillFile& file, int64_t buffer_entries)
    : file_(file), buffer_(static_cast<size_t>(std::max<int64_t>(1, buffer_entries))) {}

void SpillWriter::flush() {
  if (used_ > 0) file_.append(buffer_.data(), used_);
  used_ = 0;
}

bool RunStore::reserve_memory(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (memory_used_ + bytes > memory_budget_) return false;
  memory_used_ += bytes;
  return true;
}

void RunStore::add(Run run) {
  std::lock_guard<std::mutex> lock(mutex_);
  runs_.push_back(std::move(run));
}

std::unique_ptr<SpillFile> RunStore::new_file() {
  int64_t number;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    number = next_file_++;
  }
  return std::make_unique<SpillFile>(directory_ + "/run-" + std::to_string(number) + ".bin");
}

void RunStore::count_spill(int64_t entries) {
  std::lock_guard<std::mutex> lock(mutex_);
  spilled_runs_ += 1;
  spilled_bytes_ += entries * static_cast<int64_t>(sizeof(RunEntry));
}

void RunStore::spill_until(int64_t limit) {
  std::vector<Run*> in_memory;
  for (auto& run : runs_)
    if (!run.file) in_memory.push_back(&run);
  std::sort(in_memory.begin(), in_memory.end(),
            [](const Run* a, const Run* b) { return a->memory_bytes() > b->memory_bytes(); });
  for (Run* run : in_memory) {
    if (memory_used_ <= limit) break;
    auto file = new_file();
    const SortedUpdates& u = run->memory;
    {
      SpillWriter writer(*file, kSpillWriterEntries);
      reduce_sorted(u.entries.data(), u.entries.size(), u.distance_bits, u.weight,
                    [&](uint64_t key, uint64_t value) { writer.push(key, value); });
      writer.flush();
    }
    count_spill(file->size());
    memory_used_ -= run->memory_bytes();
    run->file = std::move(file);
    run->memory = SortedUpdates();
  }
}

RunCursor::RunCursor(const RunSlice& slice, int64_t buffer_entries) {
  const int64_t n = std::max<int64_t>(0, slice.end - slice.first);
  left_ = n;
  if (slice.run->file) {
    file_ = std::make_unique<SpillFile::Reader>(*slice.run->file);
    file_->seek(slice.first);
  } else {
    updates_ = &slice.run->memory;
    next_ = slice.first;
    buffer_entries = std::min(buffer_entries, kSummedEntries);
  }
  buffer_.resize(static_cast<size_t>(std::max<int64_t>(1, std::min(buffer_entries, n))));
  refill();
}

void RunCursor::refill() {
  int64_t got = 0;
  if (file_) {
    got = file_->read(buffer_.data(), std::min<int64_t>(left_, buffer_.size()));
    left_ -= got;
  } else {
    // Whole keys only: the slice ends at a key boundary, so each group of
    // equal keys is summed into one entry.
    const SortedUpdates& u = *updates_;
    const int64_t end = next_ + left_;
    const auto room = static_cast<int64_t>(buffer_.size());
    while (got < room && next_ < end) {
      const uint64_t key = u.key(next_);
      uint64_t value = 0;
      do value += u.value(next_++);
      while (next_ < end && u.key(next_) == key);
      buffer_[got++] = RunEntry{key, value};
    }
    left_ = end - next_;
  }
  cur_ = buffer_.data();
  end_ = cur_ + got;
}

RunMerger::RunMerger(const std::vector<RunSlice>& slices, int64_t buffer_entries_per_run) {
  cursors_.reserve(slices.size());
  for (const RunSlice& slice : slices) {
    cursors_.emplace_back(slice, buffer_entries_per_run);
    if (!cursors_.back().done()) heap_.push_back(static_cast<int>(cursors_.size()) - 1);
  }
  for (size_t i = heap_.size() / 2; i-- > 0;) sift_down(i);
}

void RunMerger::sift_down(size_t i) {
  const size_t n = heap_.size();
  const int item = heap_[i];
  const uint64_t k = cursors_[item].key();
  while (true) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && cursors_[heap_[child + 1]].key() < cursors_[heap_[child]].key()) ++child;
    if (cursors_[heap_[child]].key() >= k) break;
    heap_[i] = heap_[child];
    i = child;
  }
  heap_[i] = item;
}

RunEntry RunMerger::pop() {
  RunEntry out{key(), 0};
  // Each run holds a key at most once, so equal keys sit in different runs.
  while (!heap_.empty() && cursors_[heap_[0]].key() == out.key) {
    RunCursor& top = cursors_[heap_[0]];
    out.value += top.value();
    top.advance();
    if (top.done()) {
      heap_[0] = heap_.back();
      heap_.pop_back();
    }
    if (!heap_.empty()) sift_down(0);
  }
  return out;
}

int64_t reduce_run_count(RunStore& store, int fan_in, int64_t buffer_entries_per_run) {
  fan_in = std::max(fan_in, 2);
  int64_t passes = 0;
  auto& runs = store.runs();
  while (static_cast<int64_t>(runs.size()) > fan_in) {
    // Merge the smallest runs first: less data re-read per pass.
    std::sort(runs.begin(), runs.end(),
              [](const Run& a, const Run& b) { return a.size() < b.size(); });
    std::vector<RunSlice> group;
    for (int i = 0; i < fan_in; ++i) group.push_back(RunSlice{&runs[i], 0, runs[i].size()});
    Run merged;
    merged.file = store.new_file();
    {
      RunMerger merger(group, buffer_entries_per_run);
      SpillWriter writer(*merged.file, buffer_entries_per_run);
      while (!merger.done()) {
        const RunEntry e = merger.pop();
        writer.push(e.key, e.value);
      }
      writer.flush();
    }
    store.count_spill(merged.file->size());
    for (int i = 0; i < fan_in; ++i) store.release_memory(runs[i].memory_bytes());
    runs.erase(runs.begin(), runs.begin() + fan_in);  // removes their files
    runs.push_back(std::move(merged));
    ++passes;
  }
  return passes;
}

}  // namespace embforge::cooc
