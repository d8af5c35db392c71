// The FastText kernel's shared code (csrc/cuda/ft_core.cuh) on the CPU, for
// the tests: the span loop, one window with given targets (fasttext.h's
// fasttext_window_update contract, for the numpy oracle), the init and the
// composed word vectors, on numpy arrays, with `lanes` emulated lanes.
// Part of the test-only module built from emulation.cpp.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bindings.h"
#include "fasttext_bindings.h"
#include "embforge/check.h"
#include "embforge/fasttext.h"
#include "ft_core.cuh"
#include "lane_emulation.h"
#include "range_emulation.h"
#include "sgns_bindings.h"

namespace embforge::cuda::emulation {

inline void bind_fasttext_emulation(pybind11::module_& m) {
  namespace py = pybind11;
  using embforge::bind::checked_data;
  using embforge::bind::checked_fasttext_model;

  m.def("emulate_fasttext_range",
        [](py::array ids, py::array offsets, py::array input, py::array output, py::array subword_offsets,
           py::array subword_ids, py::array keep_threshold, py::array noise_keep, py::array noise_alias,
           int64_t bucket, int64_t begin, int64_t end, bool skip_gram, int window, int negative,
           bool shrink_windows, float alpha_start, float alpha_end, uint64_t seed, int epoch, int lanes,
           int span, int pack) {
          FastTextModel model = checked_fasttext_model(input, &output, subword_offsets, subword_ids, bucket);
          const CorpusView corpus = embforge::bind::corpus_view(ids, offsets, model.vocab_size);
          embforge::bind::set_sampling_tables(model, keep_threshold, noise_keep, noise_alias);
          end = checked_range_end(corpus, begin, end, window, negative, span);
          auto params = sampling_params<FastTextParams>(static_cast<int>(input.shape(1)), window, negative,
                                                        skip_gram, shrink_windows, alpha_start, alpha_end,
                                                        seed, epoch);
          params.bucket = bucket;
          const FtArgs a = ft_args(params, corpus, model);
          W2vCounters total;
          {
            py::gil_scoped_release release;
            std::vector<unsigned char> scratch(static_cast<size_t>(ft_scratch_bytes(a)) + 16);
            const FtScratch s = ft_scratch(scratch.data(), a);
            with_pack(a.w.dim, pack, [&](auto v) {
              on_lanes(lanes, [&](const auto& g) {
                W2vCounters c;
                ft_spans<decltype(v)::value>(g, a, s, begin, end, span, 0, 1, c);
                if (g.rank() == 0) total = c;
              });
            });
          }
          return range_result(total, begin, end);
        },
        py::arg("ids"), py::arg("offsets"), py::arg("input"), py::arg("output"),
        py::arg("subword_offsets"), py::arg("subword_ids"), py::arg("keep_threshold"),
        py::arg("noise_keep"), py::arg("noise_alias"), py::kw_only(), py::arg("bucket"),
        py::arg("begin") = 0, py::arg("end") = -1, py::arg("skip_gram"), py::arg("window"),
        py::arg("negative"), py::arg("shrink_windows") = true, py::arg("alpha_start"),
        py::arg("alpha_end"), py::arg("seed"), py::arg("epoch"), py::arg("lanes") = 1,
        py::arg("span") = 256, py::arg("pack") = 0,
        "The FastText kernel's span loop on the CPU, spans in order (test use).");

  m.def("emulate_fasttext_window",
        [](py::array input, py::array output, py::array subword_offsets, py::array subword_ids,
           int64_t bucket, py::array inputs, py::array targets, float alpha, int lanes, int pack) {
          const FastTextModel model = checked_fasttext_model(input, &output, subword_offsets, subword_ids, bucket);
          EMBFORGE_CHECK(targets.ndim() == 2 && targets.shape(0) >= 1 && targets.shape(1) >= 1,
                         "targets must be [n_sets, 1 + negative]");
          const auto n_sets = static_cast<int>(targets.shape(0));
          const auto n_targets = static_cast<int>(targets.shape(1));
          const auto* in = checked_data<uint32_t>(inputs, "inputs", {-1}, false);
          const auto* tgt = checked_data<uint32_t>(targets, "targets", {n_sets, n_targets}, false);
          const auto n_in = static_cast<int>(inputs.size());
          EMBFORGE_CHECK(n_in >= 1, "at least one input word");
          for (int i = 0; i < n_in; ++i) EMBFORGE_CHECK(in[i] < model.vocab_size, "input out of range");
          for (int64_t k = 0; k < int64_t{n_sets} * n_targets; ++k)
            EMBFORGE_CHECK(tgt[k] < model.vocab_size, "target out of range");
          FastTextParams params;
          params.vector_size = static_cast<int>(input.shape(1));
          params.window = n_in;  // the contexts' scratch holds the inputs (CBOW)
          params.negative = n_targets - 1;
          params.bucket = bucket;
          const FtArgs a = ft_args(params, CorpusView{}, model);
          double loss = 0.0;
          {
            py::gil_scoped_release release;
            std::vector<unsigned char> scratch(static_cast<size_t>(ft_scratch_bytes(a)) + 16);
            const FtScratch s = ft_scratch(scratch.data(), a);
            std::copy(in, in + n_in, s.contexts);
            with_pack(a.w.dim, pack, [&](auto v) {
              constexpr int V = decltype(v)::value;
              on_lanes(lanes, [&](const auto& g) {
                // ft_center's steps with the given sets instead of drawn ones
                const int dim = a.w.dim, first = g.rank() * V, stride = g.size() * V;
                W2vCounters c;
                for (int cc = first; cc < dim; cc += stride) fill_pack<V>(s.grad + cc, 0.0f);
                ft_compose<V>(g, a, s.contexts, n_in, s.hidden);
                for (int set = 0; set < n_sets; ++set) {
                  g.sync();
                  if (g.rank() == 0)
                    std::copy(tgt + set * n_targets, tgt + (set + 1) * n_targets, s.targets);
                  g.sync();
                  ft_train_set<V>(g, a, s, alpha, c);
                }
                ft_spread<V>(g, a, s.contexts, n_in, s.grad);
                if (g.rank() == 0) loss = c.loss;
              });
            });
          }
          return loss;
        },
        py::arg("input"), py::arg("output"), py::arg("subword_offsets"), py::arg("subword_ids"),
        py::arg("bucket"), py::arg("inputs"), py::arg("targets"), py::arg("alpha"), py::kw_only(),
        py::arg("lanes") = 1, py::arg("pack") = 0,
        "One window of the FastText kernel with given sets of targets (fasttext_window_update's\n"
        "contract): the hidden vector from `inputs`, sets in order, the gradient to every subword row.");

  m.def("emulate_fasttext_init",
        [](py::array input, uint64_t seed, float scale) {
          EMBFORGE_CHECK(input.ndim() == 2, "input must be 2-D");
          const int64_t rows = input.shape(0);
          const auto dim = static_cast<int>(input.shape(1));
          float* data = checked_data<float>(input, "input", {rows, dim}, true);
          for (int64_t r = 0; r < rows; ++r) ft_init_row(data + r * dim, dim, seed, r, scale);
        },
        py::arg("input"), py::arg("seed"), py::arg("scale"),
        "The FastText init kernel's rows on the CPU.");

  m.def("emulate_fasttext_word_vectors",
        [](py::array input, py::array subword_offsets, py::array subword_ids, int64_t bucket,
           py::array out, int lanes, int pack) {
          const FastTextModel model = checked_fasttext_model(input, nullptr, subword_offsets, subword_ids, bucket);
          const auto dim = static_cast<int>(input.shape(1));
          float* o = checked_data<float>(out, "out", {model.vocab_size, dim}, true);
          const FtArgs a = ft_vector_args(model, dim);
          py::gil_scoped_release release;
          with_pack(dim, pack, [&](auto v) {
            on_lanes(lanes, [&](const auto& g) {
              for (int64_t w = 0; w < a.w.vocab_size; ++w) {
                const auto word = static_cast<uint32_t>(w);
                ft_compose<decltype(v)::value>(g, a, &word, 1, o + w * dim);
              }
            });
          });
        },
        py::arg("input"), py::arg("subword_offsets"), py::arg("subword_ids"), py::arg("bucket"),
        py::arg("out"), py::kw_only(), py::arg("lanes") = 1, py::arg("pack") = 0,
        "The FastText word-vector kernel on the CPU.");
}

}  // namespace embforge::cuda::emulation
