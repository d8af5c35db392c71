// What the word2vec and FastText span-loop emulations share: the pack path,
// the checks of a range and its loop sizes, the parameters both structs name
// alike, and the result. Part of the test-only module built from
// emulation.cpp.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <type_traits>

#include "embforge/check.h"
#include "embforge/corpus_view.h"
#include "w2v_core.cuh"

namespace embforge::cuda::emulation {

// The 16-byte pack path where the launcher would take it (pack 0), or the one asked for.
template <typename Fn>
void with_pack(int dim, int pack, Fn&& fn) {
  EMBFORGE_CHECK(pack == 0 || pack == 1 || pack == 4, "pack must be 0, 1 or 4, got ", pack);
  if (pack == 0) pack = dim % 4 == 0 ? 4 : 1;
  EMBFORGE_CHECK(pack == 1 || dim % 4 == 0, "pack=4 needs vector_size % 4 == 0");
  if (pack == 4) fn(std::integral_constant<int, 4>{}); else fn(std::integral_constant<int, 1>{});
}

// The end of the range [begin, end) of `corpus` a span loop trains (end < 0:
// the corpus's end), checked with the loop's sizes.
inline int64_t checked_range_end(const CorpusView& corpus, int64_t begin, int64_t end, int window,
                                 int negative, int span) {
  if (end < 0) end = corpus.n_ids;
  EMBFORGE_CHECK(0 <= begin && begin <= end && end <= corpus.n_ids, "bad range [", begin, ", ",
                 end, ")");
  EMBFORGE_CHECK(window >= 1 && negative >= 1 && span >= 1,
                 "window, negative, span must be >= 1, got ", window, ", ", negative, ", ", span);
  return end;
}

// Word2VecParams or FastTextParams with the fields they share set.
template <typename Params>
Params sampling_params(int vector_size, int window, int negative, bool skip_gram,
                       bool shrink_windows, float alpha_start, float alpha_end, uint64_t seed,
                       int epoch) {
  Params params;
  params.vector_size = vector_size;
  params.window = window;
  params.negative = negative;
  params.skip_gram = skip_gram;
  params.shrink_windows = shrink_windows;
  params.alpha_start = alpha_start;
  params.alpha_end = alpha_end;
  params.seed = seed;
  params.epoch = epoch;
  return params;
}

// A range's counters as the dict of the CPU's train_*_epoch.
inline pybind11::dict range_result(const W2vCounters& total, int64_t begin, int64_t end) {
  pybind11::dict out;
  out["loss"] = total.loss;
  out["loss_terms"] = total.loss_terms;
  out["words_trained"] = total.words_trained;
  out["ids_processed"] = end - begin;
  out["stopped"] = false;
  return out;
}

}  // namespace embforge::cuda::emulation
