// What the word2vec and FastText bindings share: both train with negative
// sampling over a subsampled corpus, so their parameter structs have the same
// leading fields (same names, same meaning) and their models the same
// sampling tables, and an epoch reports the same EpochStats. The CUDA
// kernels' test emulation (tests/emulation) takes the table checks from here.
#pragma once

#include <string>
#include <vector>

#include "bindings.h"
#include "embforge/word2vec.h"

namespace embforge::bind {

// The fields Word2VecParams and FastTextParams both have, in their order.
inline const std::vector<std::string> kSamplingFields = {
    "vector_size", "window", "negative", "skip_gram", "shrink_windows",
    "alpha_start", "alpha_end", "seed", "epoch", "workers"};

// Binds the kSamplingFields of a parameter struct (Word2VecParams or
// FastTextParams: a template, since the structs share names, not a base).
template <typename Params>
void def_sampling_fields(py::class_<Params>& cls) {
  cls.def_readwrite("vector_size", &Params::vector_size)
      .def_readwrite("window", &Params::window, "maximum distance between center and context")
      .def_readwrite("negative", &Params::negative, "noise words per positive pair")
      .def_readwrite("skip_gram", &Params::skip_gram, "False: CBOW")
      .def_readwrite("shrink_windows", &Params::shrink_windows)
      .def_readwrite("alpha_start", &Params::alpha_start, "learning rate at the call's start")
      .def_readwrite("alpha_end", &Params::alpha_end, "learning rate at the call's end")
      .def_readwrite("seed", &Params::seed)
      .def_readwrite("epoch", &Params::epoch)
      .def_readwrite("workers", &Params::workers, "CPU threads");
}

// kSamplingFields followed by a struct's own fields (def_fields_init_repr's list).
inline std::vector<std::string> sampling_fields_and(const std::vector<std::string>& own) {
  std::vector<std::string> fields = kSamplingFields;
  fields.insert(fields.end(), own.begin(), own.end());
  return fields;
}

// The subsampling thresholds and the noise alias table (uint32, one entry per
// word of the model) into `model`, checked.
template <typename Model>
void set_sampling_tables(Model& model, py::array& keep_threshold, py::array& noise_keep,
                         py::array& noise_alias) {
  const int64_t vocab = model.vocab_size;
  model.keep_threshold = checked_data<uint32_t>(keep_threshold, "keep_threshold", {vocab}, false);
  model.noise_keep = checked_data<uint32_t>(noise_keep, "noise_keep", {vocab}, false);
  model.noise_alias = checked_data<uint32_t>(noise_alias, "noise_alias", {vocab}, false);
}

// An epoch's (or slice's) EpochStats as the dict the Python layer reads.
inline py::dict epoch_stats_dict(const EpochStats& stats) {
  py::dict out;
  out["loss"] = stats.loss;
  out["loss_terms"] = stats.loss_terms;
  out["ids_processed"] = stats.ids_processed;
  out["words_trained"] = stats.words_trained;
  out["stopped"] = stats.stopped;
  out["rng_end"] = stats.rng_end;
  return out;
}

}  // namespace embforge::bind
