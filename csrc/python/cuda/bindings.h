// Bindings of embforge._cuda, one file per algorithm (like _core's). Device
// arrays arrive as integer addresses (tensor.data_ptr()) and the stream as an
// integer (torch.cuda.current_stream().cuda_stream) inside a _cuda.Launch:
// the module never imports torch or CuPy, and never touches device memory
// from the host. The parameter classes (Word2VecParams, CooccurParams,
// GloveParams, FastTextParams) and Progress are _core's: module.cpp imports embforge._core
// first, and pybind11 shares registered types between modules built
// together, so both modules take the same objects.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>

#include "embforge/corpus_view.h"

namespace embforge::cuda::bind {

namespace py = pybind11;

template <typename T>
T* device_ptr(uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

// The corpus as device pointers (ids uint32, offsets int64 [n_sentences + 1]).
inline CorpusView device_corpus(uintptr_t ids, uintptr_t offsets, int64_t n_ids, int64_t n_sentences) {
  CorpusView corpus;
  corpus.ids = device_ptr<const uint32_t>(ids);
  corpus.offsets = device_ptr<const int64_t>(offsets);
  corpus.n_ids = n_ids;
  corpus.n_sentences = n_sentences;
  return corpus;
}

// The subsampling thresholds and the noise alias table (uint32, one entry
// per word) as device pointers into `model` (a Word2VecModel or FastTextModel).
template <typename Model>
void set_device_sampling_tables(Model& model, uintptr_t keep_threshold, uintptr_t noise_keep,
                                uintptr_t noise_alias) {
  model.keep_threshold = device_ptr<const uint32_t>(keep_threshold);
  model.noise_keep = device_ptr<const uint32_t>(noise_keep);
  model.noise_alias = device_ptr<const uint32_t>(noise_alias);
}

void bind_device(py::module_& m);
void bind_word2vec(py::module_& m);
void bind_cooccur(py::module_& m);
void bind_glove(py::module_& m);
void bind_fasttext(py::module_& m);

}  // namespace embforge::cuda::bind
