// Arrays that grow with the corpus (the encoded id stream, its line ends and
// sentence offsets) without holding it all in RAM. A SpillArray lives in
// memory until its owner moves it to a file; from then on it appends there
// through a small buffer and is read back through mmap, so its pages are the
// kernel's file cache (reclaimable, written back to disk under pressure), not
// the process's anonymous memory.
//
// A temporary file is unlinked the moment it is created: only the descriptor
// and the mappings keep it, so nothing is left on disk when the process ends,
// whether normally, by an exception, Ctrl-C or kill -9.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "embforge/malloc_array.h"

namespace embforge {

// A shared mapping of the first bytes of a file; unmapped on destruction.
class FileMapping {
 public:
  FileMapping() = default;
  FileMapping(int fd, size_t bytes, bool writable, const std::string& what);
  FileMapping(FileMapping&& other) noexcept { *this = std::move(other); }
  FileMapping& operator=(FileMapping&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(bytes_, other.bytes_);
    return *this;
  }
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;
  ~FileMapping();

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// A file written sequentially. Failures are FileError (OSError in Python,
// with its errno: a full disk names the file and the bytes it could not take).
class SpillFile {
 public:
  SpillFile() = default;
  // Creates `path`, or truncates it: the caller keeps the file.
  static SpillFile named(const std::string& path);
  // Creates a file in `dir` and unlinks it at once (see above).
  static SpillFile temporary(const std::string& dir);
  SpillFile(SpillFile&& other) noexcept { *this = std::move(other); }
  SpillFile& operator=(SpillFile&& other) noexcept {
    std::swap(fd_, other.fd_);
    std::swap(what_, other.what_);
    std::swap(size_, other.size_);
    return *this;
  }
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;
  ~SpillFile();

  bool is_open() const { return fd_ >= 0; }
  int64_t size() const { return size_; }
  void append(const void* data, size_t bytes);
  void truncate(int64_t bytes);
  FileMapping map(size_t bytes, bool writable) const;

 private:
  int fd_ = -1;
  std::string what_;  // names the file in error messages
  int64_t size_ = 0;
};

template <typename T>
class SpillArray {
 public:
  // The write buffer once in a file (4 MB), and the first in-memory block.
  static constexpr int64_t kBuffer = (int64_t{4} << 20) / int64_t{sizeof(T)};
  static constexpr int64_t kFirstBlock = int64_t{1} << 14;

  int64_t size() const { return size_; }
  bool in_file() const { return file_.is_open(); }
  // Bytes held for the array in memory (its capacity; the write buffer once
  // in a file), and what the next push_back would make it when it must grow.
  size_t memory_bytes() const { return static_cast<size_t>(memory_.size()) * sizeof(T); }
  bool full() const { return !in_file() && size_ == memory_.size(); }
  size_t grown_bytes() const {
    return static_cast<size_t>(std::max(2 * memory_.size(), kFirstBlock)) * sizeof(T);
  }

  void push_back(T value) {
    if (in_file()) {
      if (buffered_ == memory_.size()) {
        flush();
        if (memory_.size() == 0) memory_ = MallocArray<T>(kBuffer);  // after data()
      }
      memory_[buffered_++] = value;
    } else {
      // realloc: a large block grows by remapping its pages (glibc's
      // mremap), so growing never holds the old and the new copy at once
      if (size_ == memory_.size()) memory_.resize(std::max(2 * memory_.size(), kFirstBlock));
      memory_[size_] = value;
    }
    ++size_;
  }

  // In memory and full: grows to at most `max_bytes` (doubling where that
  // fits, else up to the bound); false when that leaves no room to grow.
  bool grow_within(size_t max_bytes) {
    const int64_t most = static_cast<int64_t>(max_bytes / sizeof(T));
    const int64_t grown = std::min(std::max(2 * memory_.size(), kFirstBlock), most);
    if (in_file() || grown <= memory_.size()) return false;
    memory_.resize(grown);
    return true;
  }

  // In memory: room for n more elements, at the address returned; write up
  // to n there, then grew(k) with the number written.
  T* reserve_tail(int64_t n) {
    if (size_ + n > memory_.size()) memory_.resize(size_ + n);
    return memory_.data() + size_;
  }
  void grew(int64_t k) { size_ += k; }

  // Moves what is in memory to `file` and keeps appending there.
  void move_to(SpillFile file) {
    file.append(memory_.data(), static_cast<size_t>(size_) * sizeof(T));
    file_ = std::move(file);
    memory_ = MallocArray<T>(kBuffer);  // untouched pages never become resident
    buffered_ = 0;
  }

  void flush() {
    if (!in_file() || buffered_ == 0) return;
    file_.append(memory_.data(), static_cast<size_t>(buffered_) * sizeof(T));
    buffered_ = 0;
  }

  // The whole array after the last push_back, to read or rewrite in place:
  // the memory, or the file mapped (until unmap() or truncate()).
  T* data(bool writable) {
    if (!in_file()) return memory_.data();
    flush();
    memory_ = MallocArray<T>();  // the buffer is no longer needed
    if (size_ == 0) return nullptr;
    mapping_ = file_.map(static_cast<size_t>(size_) * sizeof(T), writable);
    return static_cast<T*>(mapping_.data());
  }
  void unmap() { mapping_ = FileMapping(); }

  // Keeps the first n elements (n <= size()), giving the rest back.
  void truncate(int64_t n) {
    if (in_file()) {
      flush();
      unmap();  // pages past the new end must not stay mapped
      file_.truncate(n * static_cast<int64_t>(sizeof(T)));
    } else {
      memory_.resize(n);
    }
    size_ = n;
  }

  // The result, once complete: the memory (in memory) or a read-only
  // mapping of the file (in a file; size() > 0). Either leaves this empty.
  MallocArray<T> take_memory() {
    memory_.resize(size_);
    size_ = 0;
    return std::move(memory_);
  }
  FileMapping take_mapping() {
    flush();
    FileMapping out = file_.map(static_cast<size_t>(size_) * sizeof(T), false);
    *this = SpillArray();
    return out;
  }

 private:
  MallocArray<T> memory_;  // the elements, or the write buffer once in a file
  int64_t size_ = 0;
  int64_t buffered_ = 0;   // elements in the write buffer
  SpillFile file_;
  FileMapping mapping_;
};

}  // namespace embforge
