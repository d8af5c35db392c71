// An owning array allocated with std::malloc, for results handed to Python
// without a copy (the bindings give the pointer to numpy, which frees it).
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

namespace embforge {

// Large blocks (glibc maps them on their own) on transparent huge pages:
// a page fault per 2 MiB instead of per 4 KiB. Advisory, and only the
// 2 MiB-aligned interior; ignored where THP is off.
inline void advise_huge_pages(void* data, size_t bytes) {
#ifdef MADV_HUGEPAGE
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (bytes < 4 * kHuge) return;
  const auto begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const auto end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

template <typename T>
class MallocArray {
 public:
  MallocArray() = default;
  explicit MallocArray(int64_t capacity) : size_(capacity) {
    // malloc, not vector: untouched pages of a generous capacity never
    // become resident, and shrink() gives the tail back without a copy.
    const size_t bytes = static_cast<size_t>(capacity > 0 ? capacity : 1) * sizeof(T);
    data_ = static_cast<T*>(std::malloc(bytes));
    if (!data_) throw std::bad_alloc();
    advise_huge_pages(data_, bytes);
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
