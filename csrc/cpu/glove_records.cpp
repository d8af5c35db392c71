#include "embforge/glove_records.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "embforge/check.h"
#include "embforge/file_io.h"

namespace embforge {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the records are written in host byte order, and glove.c's files are little-endian");
static_assert(sizeof(off_t) == 8, "file offsets past 2 GiB need a 64-bit off_t");

constexpr int64_t kStagingBytes = GloveRecordWriter::kStagingBytes;
constexpr int64_t kDirectAlign = 4096;
// Records packed at a time by write_glove_records (1 MiB, in L2).
constexpr int64_t kPackRecords = int64_t{1} << 16;

[[noreturn]] void fail(int error_number, const std::string& what, const char* action) {
  throw FileError(error_number, what, std::string("cannot ") + action + " " + what + ": " +
                                          std::strerror(error_number));
}

// A word id as glove.c numbers it (1-based), in unsigned arithmetic: an id
// of 2^31 - 1 wraps instead of overflowing (the caller's ids are in range).
inline int32_t one_based(int32_t id) {
  return static_cast<int32_t>(static_cast<uint32_t>(id) + 1u);
}

}  // namespace

void GloveRecordWriter::Free::operator()(void* p) const { std::free(p); }

GloveRecordWriter::GloveRecordWriter(int fd, int64_t offset, std::string what)
    : fd_(fd), what_(std::move(what)), at_(offset) {
  EMBFORGE_CHECK(fd >= 0, "fd must be an open file descriptor, got ", fd);
  EMBFORGE_CHECK(offset >= 0, "offset must be >= 0, got ", offset);
  flags_ = ::fcntl(fd, F_GETFL);
  if (flags_ < 0) fail(errno, what_, "use");
  // pwrite ignores the offset under O_APPEND, and an O_DIRECT descriptor
  // could not take the unaligned writes of the page-cache path.
  EMBFORGE_CHECK((flags_ & O_APPEND) == 0, what_, " is open for appending (O_APPEND): records "
                 "are written at their offsets");
#ifdef O_DIRECT
  EMBFORGE_CHECK((flags_ & O_DIRECT) == 0, what_, " is open with O_DIRECT: open it without; "
                 "large writes go direct by themselves");
#endif
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(errno, what_, "inspect");  // fstat: the position stays
  size_before_ = st.st_size;
  staging_.reset(static_cast<char*>(std::aligned_alloc(kDirectAlign, kStagingBytes)));
  writing_.reset(static_cast<char*>(std::aligned_alloc(kDirectAlign, kStagingBytes)));
  if (!staging_ || !writing_) throw std::bad_alloc();
}

GloveRecordWriter::~GloveRecordWriter() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();  // a block being written is finished first
  }
  set_direct(false);
}

void GloveRecordWriter::write_blocks() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return block_pending_ || stopping_; });
    if (!block_pending_) return;
    lock.unlock();
    std::exception_ptr error;
    try {
      write_direct_or_buffered(writing_.get(), block_bytes_, block_bytes_, block_at_);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    block_pending_ = false;
    if (error && !error_) error_ = error;
    changed_.notify_all();
  }
}

void GloveRecordWriter::wait_for_block() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !block_pending_; });
  if (error_) std::rethrow_exception(error_);
}

void GloveRecordWriter::set_direct(bool on) {
#ifdef O_DIRECT
  if (on == direct_) return;
  direct_ = on && ::fcntl(fd_, F_SETFL, flags_ | O_DIRECT) == 0;
  if (!on) ::fcntl(fd_, F_SETFL, flags_);
#else
  (void)on;
#endif
}

void GloveRecordWriter::append(const GloveRecord* records, int64_t n) {
  const char* from = reinterpret_cast<const char*>(records);
  int64_t bytes = n * static_cast<int64_t>(sizeof(GloveRecord));
  records_ += n;
  while (bytes > 0) {
    const int64_t take = std::min(bytes, kStagingBytes - staged_);
    std::memcpy(staging_.get() + staged_, from, static_cast<size_t>(take));
    staged_ += take;
    from += take;
    bytes -= take;
    if (staged_ == kStagingBytes) flush_block();
  }
}

void GloveRecordWriter::flush_block() {
  wait_for_block();  // the writing thread is idle from here until the hand-over
  if (!direct_tried_) {
    direct_tried_ = true;
    if (at_ % kDirectAlign == 0) set_direct(true);
  }
  // Started before a block is published: a thread that cannot start must
  // not leave a block pending that nobody writes.
  if (!thread_.joinable()) thread_ = std::thread([this] { write_blocks(); });
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::swap(staging_, writing_);
    block_bytes_ = staged_;
    block_at_ = at_;
    block_pending_ = true;
  }
  changed_.notify_all();
  at_ += staged_;
  staged_ = 0;
}

// Direct writes are whole blocks (`padded` bytes, zeros past `bytes`); a
// refused one (EINVAL: the filesystem takes the flag, not the I/O) or a
// short one is written again through the page cache, as is the rest. What a
// direct write put past `bytes` is cut off in finish().
void GloveRecordWriter::write_direct_or_buffered(const char* data, int64_t bytes, int64_t padded,
                                                 int64_t at) {
  if (direct_) {
    ssize_t wrote;
    do {
      wrote = ::pwrite(fd_, data, static_cast<size_t>(padded), at);
    } while (wrote < 0 && errno == EINTR);
    if (wrote > 0) padded_end_ = std::max(padded_end_, at + wrote);
    if (wrote == padded) return;
    set_direct(false);
  }
  all_direct_ = false;
  write_at(fd_, data, static_cast<size_t>(bytes), at, what_);
}

bool GloveRecordWriter::finish() {
  wait_for_block();
  if (staged_ > 0) {
    const int64_t padded = (staged_ + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
    std::memset(staging_.get() + staged_, 0, static_cast<size_t>(padded - staged_));
    // a padded block must not overwrite what the file held past the records
    if (size_before_ > at_) set_direct(false);
    write_direct_or_buffered(staging_.get(), staged_, padded, at_);
    at_ += staged_;
    staged_ = 0;
  }
  set_direct(false);
  const int64_t size = std::max<int64_t>(at_, size_before_);
  if (padded_end_ > size && ::ftruncate(fd_, static_cast<off_t>(size)) != 0)
    fail(errno, what_, "truncate");
  return all_direct_ && records_ > 0;
}

bool write_glove_records(int fd, int64_t offset, const int32_t* rows, const int32_t* cols,
                         const float* values, int64_t n, const std::string& what) {
  EMBFORGE_CHECK(n >= 0, "n must be >= 0, got ", n);
  GloveRecordWriter writer(fd, offset, what);
  // One thread: packing is cheap next to the write, and buffered writes to
  // one file are serialised by its inode lock (ext4, xfs), where a second
  // writer only spins (measured: 15% of the command's CPU time with two).
  const auto capacity = static_cast<size_t>(std::clamp<int64_t>(n, 1, kPackRecords));
  std::unique_ptr<GloveRecord[]> packed(new GloveRecord[capacity]);
  for (int64_t begin = 0; begin < n; begin += kPackRecords) {
    const int64_t count = std::min(kPackRecords, n - begin);
    for (int64_t i = 0; i < count; ++i)
      packed[i] = GloveRecord{one_based(rows[begin + i]), one_based(cols[begin + i]),
                              static_cast<double>(values[begin + i])};
    writer.append(packed.get(), count);
  }
  return writer.finish();
}

}  // namespace embforge
