#include "embforge/spill_array.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "embforge/file_io.h"

namespace embforge {
namespace {

[[noreturn]] void fail(int error_number, const std::string& what, const std::string& action) {
  throw FileError(error_number, what,
                  "cannot " + action + " " + what + ": " + std::strerror(error_number));
}

}  // namespace

FileMapping::FileMapping(int fd, size_t bytes, bool writable, const std::string& what) {
  if (bytes == 0) return;
  void* data = ::mmap(nullptr, bytes, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
                      fd, 0);
  if (data == MAP_FAILED) fail(errno, what, "map");
  data_ = data;
  bytes_ = bytes;
}

FileMapping::~FileMapping() {
  if (data_) ::munmap(data_, bytes_);
}

SpillFile SpillFile::named(const std::string& path) {
  SpillFile file;
  file.what_ = "id stream file '" + path + "'";
  file.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (file.fd_ < 0) fail(errno, file.what_, "create");
  return file;
}

SpillFile SpillFile::temporary(const std::string& dir) {
  SpillFile file;
  std::string name = dir + "/embforge-stream-XXXXXX";
  std::vector<char> pattern(name.begin(), name.end());
  pattern.push_back('\0');
  file.fd_ = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (file.fd_ < 0) fail(errno, "a temporary file in '" + dir + "'", "create");
  name.assign(pattern.data());
  file.what_ = "temporary file '" + name + "' (deleted)";
  if (::unlink(name.c_str()) != 0) fail(errno, file.what_, "delete");
  return file;
}

SpillFile::~SpillFile() {
  if (fd_ >= 0) ::close(fd_);
}

void SpillFile::append(const void* data, size_t bytes) {
  try {
    write_at(fd_, data, bytes, size_, what_);
  } catch (const FileError& e) {
    // say how much the disk was asked to take, not only that it refused
    throw FileError(e.error_number(), e.path(),
                    std::string(e.what()) + " (" + std::to_string(bytes) + " bytes at offset " +
                        std::to_string(size_) + ")");
  }
  size_ += static_cast<int64_t>(bytes);
}

void SpillFile::truncate(int64_t bytes) {
  if (::ftruncate(fd_, static_cast<off_t>(bytes)) != 0) fail(errno, what_, "truncate");
  size_ = bytes;
}

FileMapping SpillFile::map(size_t bytes, bool writable) const {
  return FileMapping(fd_, bytes, writable, what_);
}

}  // namespace embforge
