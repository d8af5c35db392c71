// Per-thread scratch arrays that own their cache lines.
//
// A worker writes its buffers (window rows, gradients, the current sentence)
// on every window. Allocated with std::vector, two threads' buffers could sit
// in one cache line whenever malloc served both threads from the same arena,
// and each write then stole the line from the other core: 2 CBOW threads ran
// slower than 1 in some processes and not in others, depending on the
// allocation history. A LineArray starts on a 64-byte boundary and is rounded
// up to whole lines, so nothing else shares its lines.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace embforge {

inline constexpr size_t kCacheLine = 64;

template <typename T>
class LineArray {
 public:
  explicit LineArray(size_t n = 0) : size_(n) {
    const size_t bytes = (n * sizeof(T) + kCacheLine - 1) / kCacheLine * kCacheLine;
    void* p = std::aligned_alloc(kCacheLine, bytes > 0 ? bytes : kCacheLine);
    if (!p) throw std::bad_alloc();
    data_.reset(static_cast<T*>(p));
    for (size_t i = 0; i < n; ++i) data_.get()[i] = T{};
  }

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_.get()[i]; }
  const T& operator[](size_t i) const { return data_.get()[i]; }
  T* begin() { return data(); }
  T* end() { return data() + size_; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  size_t size_;
};

}  // namespace embforge
