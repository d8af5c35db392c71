// glove.c's co-occurrence file: records of int32 word1, int32 word2, float64
// value (its CREC), little-endian, word ids 1-based, written from a count
// without building the records in memory first.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace embforge {

struct GloveRecord {
  int32_t word1;
  int32_t word2;
  double value;
};
static_assert(sizeof(GloveRecord) == 16, "glove.c's records are 16 bytes");

// Writes records to an open file from byte `offset` on (pwrite: the
// descriptor's position does not move; one opened with O_APPEND or O_DIRECT
// is refused), through a staging buffer of whole blocks. Once a file
// outgrows the buffer (4 MiB), and where the offset is block-aligned and the
// filesystem allows it, the blocks skip the page cache (direct I/O): the
// caller fsyncs the file anyway (saves are atomic and durable), and on a VM a
// fresh page-cache page costs as much as the disk (310 MB took 0.13 s direct
// against 0.72-0.81 s buffered and fsynced). finish() writes the tail (a
// padded block, the file then cut back to the records' end, never below the
// size it had) and must be called for the file to be whole. Failed writes
// are FileError naming `what`. One thread at a time.
//
// Full blocks are written by a thread of the writer's own while the caller
// fills the other of two staging buffers: `embforge cooccur` otherwise
// merged nothing while its 310 MB went to the disk (0.26 s of its 0.3 s
// merge). A failed block write is thrown by the next append() or finish().
class GloveRecordWriter {
 public:
  // 4 MiB a write: large enough that the system call is noise, small enough
  // to stay in the caches between fills; a multiple of any block size direct
  // I/O asks for. Two such buffers are held.
  static constexpr int64_t kStagingBytes = int64_t{4} << 20;
  static constexpr int64_t kMemoryBytes = 2 * kStagingBytes;

  GloveRecordWriter(int fd, int64_t offset, std::string what);
  ~GloveRecordWriter();
  GloveRecordWriter(const GloveRecordWriter&) = delete;
  GloveRecordWriter& operator=(const GloveRecordWriter&) = delete;

  void append(const GloveRecord* records, int64_t n);
  // Returns whether every byte went past the page cache.
  bool finish();
  int64_t records() const { return records_; }

 private:
  void flush_block();
  void write_direct_or_buffered(const char* data, int64_t bytes, int64_t padded, int64_t at);
  void set_direct(bool on);
  // The background write of the other buffer: waits for it, then throws its error.
  void wait_for_block();
  void write_blocks();  // the writing thread

  int fd_;
  std::string what_;
  int flags_ = 0;
  int64_t size_before_ = 0;
  int64_t at_;                 // where the staged bytes go in the file
  int64_t padded_end_ = 0;     // the end of the last padded direct write
  int64_t records_ = 0;
  int64_t staged_ = 0;         // bytes in the staging buffer
  bool direct_ = false;
  bool direct_tried_ = false;  // direct I/O is chosen once, at the first full block
  bool all_direct_ = true;
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<char, Free> staging_;  // being filled
  std::unique_ptr<char, Free> writing_;  // being written (or free)
  // The block handed to the writing thread, guarded by mutex_.
  std::mutex mutex_;
  std::condition_variable changed_;
  bool block_pending_ = false;
  int64_t block_bytes_ = 0;
  int64_t block_at_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // started at the first full block
};

// The records of entries [0, n) of (rows, cols, values) (0-based ids) at
// byte `offset` of `fd`, with a GloveRecordWriter; returns its finish().
bool write_glove_records(int fd, int64_t offset, const int32_t* rows, const int32_t* cols,
                         const float* values, int64_t n, const std::string& what);

}  // namespace embforge
