// Whole-buffer file reads and writes that report failures as FileError
// (OSError with its errno in Python), for the spill and block files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace embforge {

// A failed file operation; the binding raises OSError(errno).
class FileError : public std::runtime_error {
 public:
  FileError(int error_number, std::string path, const std::string& what)
      : std::runtime_error(what), error_number_(error_number), path_(std::move(path)) {}
  int error_number() const { return error_number_; }
  const std::string& path() const { return path_; }

 private:
  int error_number_;
  std::string path_;
};

// pwrite/pread loops over `bytes` at `offset` (EINTR retried, short
// transfers continued). `what` names the file in the error message.
void write_at(int fd, const void* data, size_t bytes, int64_t offset, const std::string& what);
void read_at(int fd, void* data, size_t bytes, int64_t offset, const std::string& what);

// A file created exclusively and written sequentially; closed (not removed)
// on destruction. close() reports late write errors (NFS).
class AppendFile {
 public:
  explicit AppendFile(std::string path);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  void append(const void* data, size_t bytes);
  void close();

 private:
  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
};

}  // namespace embforge
