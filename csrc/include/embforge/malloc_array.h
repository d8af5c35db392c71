// An owning array allocated with std::malloc, for results handed to Python
// without a copy (the bindings give the pointer to numpy, which frees it).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

namespace embforge {

template <typename T>
class MallocArray {
 public:
  MallocArray() = default;
  explicit MallocArray(int64_t capacity) : size_(capacity) {
    // malloc, not vector: untouched pages of a generous capacity never
    // become resident, and shrink() gives the tail back without a copy.
    data_ = static_cast<T*>(std::malloc(static_cast<size_t>(capacity > 0 ? capacity : 1) * sizeof(T)));
    if (!data_) throw std::bad_alloc();
  }
  MallocArray(MallocArray&& other) noexcept { *this = std::move(other); }
  MallocArray& operator=(MallocArray&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  MallocArray(const MallocArray&) = delete;
  MallocArray& operator=(const MallocArray&) = delete;
  ~MallocArray() { std::free(data_); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  int64_t size() const { return size_; }
  T& operator[](int64_t i) { return data_[i]; }
  const T& operator[](int64_t i) const { return data_[i]; }
  // Keeps the first min(size, size()) elements. Shrinking gives the tail
  // back to the system; growing a large block remaps it (no copy).
  void resize(int64_t size) {
    void* moved = std::realloc(data_, static_cast<size_t>(size > 0 ? size : 1) * sizeof(T));
    if (!moved && size > size_) throw std::bad_alloc();
    if (moved) data_ = static_cast<T*>(moved);
    size_ = size;
  }
  T* release() {
    T* out = data_;
    data_ = nullptr;
    size_ = 0;
    return out;
  }

 private:
  T* data_ = nullptr;
  int64_t size_ = 0;
};

}  // namespace embforge
