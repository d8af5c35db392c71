// Conversions shared by the in-memory and out-of-core GloVe training bindings.
#pragma once

#include "bindings.h"
#include "embforge/glove.h"

namespace embforge::bind {

// The model arrays: weights and gradsq, float32 [2 * vocab, dim + 1].
inline GloveModel glove_model(py::array& weights, py::array& gradsq) {
  EMBFORGE_CHECK(weights.ndim() == 2 && weights.shape(0) % 2 == 0 && weights.shape(1) >= 2,
                 "weights must have shape [2 * vocab, dim + 1]");
  GloveModel model;
  model.vocab_size = weights.shape(0) / 2;
  model.weights = checked_data<float>(weights, "weights", {weights.shape(0), weights.shape(1)}, true);
  model.gradsq = checked_data<float>(gradsq, "gradsq", {weights.shape(0), weights.shape(1)}, true);
  return model;
}

// A COO matrix: int32 rows and cols, float32 values, n entries each.
struct CooInput {
  const int32_t* rows;
  const int32_t* cols;
  const float* values;
  int64_t n;
};

inline CooInput coo_input(py::array& rows, py::array& cols, py::array& values) {
  const auto n = static_cast<int64_t>(rows.size());
  return CooInput{checked_data<int32_t>(rows, "rows", {n}, false),
                  checked_data<int32_t>(cols, "cols", {n}, false),
                  checked_data<float>(values, "values", {n}, false), n};
}

// A COO matrix and a [n, 4] array for the glove::Pair records made from it.
struct PairInput : CooInput {
  py::array_t<uint32_t> pairs;
  glove::Pair* out() { return reinterpret_cast<glove::Pair*>(pairs.mutable_data()); }
};

inline PairInput pair_input(py::array& rows, py::array& cols, py::array& values) {
  const CooInput coo = coo_input(rows, cols, values);
  return PairInput{coo, py::array_t<uint32_t>({static_cast<py::ssize_t>(coo.n), py::ssize_t{4}})};
}

// The parameters must describe the model's arrays.
inline void check_glove_params(const GloveParams& params, const py::array& weights) {
  EMBFORGE_CHECK(weights.shape(1) - 1 == params.vector_size, "weights have ", weights.shape(1) - 1,
                 " vector columns, params.vector_size is ", params.vector_size);
}

inline py::dict epoch_dict(const GloveEpochStats& stats) {
  py::dict out;
  out["cost"] = stats.cost;
  out["pairs"] = stats.pairs;
  out["skipped"] = stats.skipped;
  out["stopped"] = stats.stopped;
  return out;
}

}  // namespace embforge::bind
