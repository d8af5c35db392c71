// Conversions shared by the FastText bindings and the CUDA kernel's test
// emulation (tests/emulation/ft_emulation.h).
#pragma once

#include "bindings.h"
#include "embforge/fasttext.h"

namespace embforge::bind {

// The input and output matrices and the subword lists as a FastTextModel,
// checked: shapes agree, offsets run from 0 to len(ids) without decreasing
// and every subword id is a row of the input matrix (the kernel indexes rows
// without checks).
inline FastTextModel checked_fasttext_model(py::array& input, py::array* output, py::array& offsets,
                                            py::array& ids, int64_t bucket) {
  EMBFORGE_CHECK(input.ndim() == 2, "input must be 2-D, got ", input.ndim(), "-D");
  EMBFORGE_CHECK(bucket >= 1, "bucket must be >= 1, got ", bucket);
  const int64_t rows = input.shape(0);
  const auto dim = input.shape(1);
  const int64_t vocab = rows - bucket;
  EMBFORGE_CHECK(vocab >= 1, "input has ", rows, " rows: not vocabulary + bucket=", bucket);
  FastTextModel m;
  m.vocab_size = vocab;
  m.bucket = bucket;
  m.input = checked_data<float>(input, "input", {rows, dim}, true);
  // no output matrix: callers that only read the input rows
  m.output = output ? checked_data<float>(*output, "output", {vocab, dim}, true) : nullptr;
  m.subword_offsets = checked_data<int64_t>(offsets, "subword_offsets", {vocab + 1}, false);
  m.subword_ids = checked_data<uint32_t>(ids, "subword_ids", {-1}, false);
  const auto n_ids = static_cast<int64_t>(ids.size());
  EMBFORGE_CHECK(m.subword_offsets[0] == 0 && m.subword_offsets[vocab] == n_ids,
                 "subword_offsets must run from 0 to len(subword_ids)=", n_ids);
  for (int64_t w = 0; w < vocab; ++w)
    EMBFORGE_CHECK(m.subword_offsets[w] <= m.subword_offsets[w + 1],
                   "subword_offsets must not decrease (at ", w, ")");
  for (int64_t k = 0; k < n_ids; ++k)
    EMBFORGE_CHECK(m.subword_ids[k] < rows, "subword id ", m.subword_ids[k], " at ", k,
                   " is out of range for ", rows, " input rows");
  return m;
}

}  // namespace embforge::bind
