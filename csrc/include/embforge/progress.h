// Counters that a long native call publishes and Python polls.
//
// Native workers never call into Python: they bump these atomics every few
// thousand items, and a Python thread reads them to draw a progress bar. The
// `stop` flag is the other direction: Python sets it (Ctrl-C, stop()) and
// workers check it at safe points (between sentences / pair blocks), so a
// stopped run leaves the model consistent.
#pragma once

#include <atomic>
#include <cstdint>

namespace embforge {

struct Progress {
  std::atomic<int64_t> work_done{0};    // units of the algorithm (tokens, pairs)
  std::atomic<int64_t> work_total{0};   // expected units for this call, if known
  std::atomic<double> loss_sum{0.0};    // running loss over the current call
  std::atomic<int64_t> loss_count{0};   // terms summed into loss_sum
  std::atomic<double> learning_rate{0.0};
  std::atomic<bool> stop{false};

  void reset(int64_t total) {
    work_done = 0;
    work_total = total;
    loss_sum = 0.0;
    loss_count = 0;
  }
  bool stop_requested() const { return stop.load(std::memory_order_relaxed); }
};

}  // namespace embforge
