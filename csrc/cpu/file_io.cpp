#include "embforge/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace embforge {
namespace {

[[noreturn]] void fail(int error_number, const std::string& what, const char* action) {
  throw FileError(error_number, what, std::string("cannot ") + action + " " + what + ": " +
                                          std::strerror(error_number));
}

}  // namespace

void write_at(int fd, const void* data, size_t bytes, int64_t offset, const std::string& what) {
  const char* at = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t wrote = ::pwrite(fd, at, bytes, static_cast<off_t>(offset));
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) fail(wrote < 0 ? errno : ENOSPC, what, "write");
    at += wrote;
    bytes -= static_cast<size_t>(wrote);
    offset += wrote;
  }
}

void read_at(int fd, void* data, size_t bytes, int64_t offset, const std::string& what) {
  char* at = static_cast<char*>(data);
  while (bytes > 0) {
    const ssize_t got = ::pread(fd, at, bytes, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail(errno, what, "read");
    if (got == 0) fail(EIO, what, "read (file shorter than written)");
    at += got;
    bytes -= static_cast<size_t>(got);
    offset += got;
  }
}

AppendFile::AppendFile(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) fail(errno, "result file '" + path_ + "'", "create");
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::append(const void* data, size_t bytes) {
  write_at(fd_, data, bytes, size_, "result file '" + path_ + "'");
  size_ += static_cast<int64_t>(bytes);
}

void AppendFile::close() {
  if (fd_ < 0) return;
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail(errno, "result file '" + path_ + "'", "write");
}

}  // namespace embforge
