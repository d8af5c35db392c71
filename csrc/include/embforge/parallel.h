// Running native worker threads with sane failure behaviour.
//
// run_workers(n, progress, fn) calls fn(thread_id) on n threads. The first
// exception thrown by any worker is kept, the others are told to stop through
// progress->stop, and the exception is rethrown on the calling thread after all
// workers have joined (never std::terminate, never a half-joined pool).
#pragma once

#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "embforge/progress.h"

namespace embforge {

template <typename Fn>
void run_workers(int n_threads, Progress* progress, Fn&& fn) {
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto guarded = [&](int thread_id) {
    try {
      fn(thread_id);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      if (progress) progress->stop = true;
    }
  };
  if (n_threads <= 1) {
    guarded(0);
  } else {
    std::vector<std::thread> threads;
    threads.reserve(n_threads);
    for (int t = 0; t < n_threads; ++t) threads.emplace_back(guarded, t);
    for (auto& thread : threads) thread.join();
  }
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace embforge
