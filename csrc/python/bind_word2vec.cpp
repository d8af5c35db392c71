#include "bindings.h"
#include "embforge/noise_table.h"
#include "embforge/word2vec.h"

namespace embforge::bind {

void bind_word2vec(py::module_& m) {
  m.def("build_alias_table",
        [](py::array weights) {
          const auto n = static_cast<int64_t>(weights.size());
          const double* w = checked_data<double>(weights, "weights", {-1}, false);
          AliasTable table;
          {
            py::gil_scoped_release release;
            table = build_alias_table(w, n);
          }
          return py::make_tuple(to_numpy(std::move(table.keep)), to_numpy(std::move(table.alias)));
        },
        py::arg("weights"), "Vose alias table (keep, alias) for sampling i with P ~ weights[i].");

  m.def("subsampling_thresholds",
        [](py::array counts, double sample) {
          const auto n = static_cast<int64_t>(counts.size());
          const int64_t* c = checked_data<int64_t>(counts, "counts", {-1}, false);
          std::vector<uint32_t> out;
          {
            py::gil_scoped_release release;
            out = subsampling_thresholds(c, n, sample);
          }
          return to_numpy(std::move(out));
        },
        py::arg("counts"), py::arg("sample"));

  m.def("init_word2vec_input",
        [](py::array input, uint64_t seed) {
          float* data = checked_data<float>(input, "input", {-1, -1}, true);
          const int64_t rows = input.shape(0);
          const int dim = static_cast<int>(input.shape(1));
          py::gil_scoped_release release;
          init_word2vec_input(data, rows, dim, seed);
        },
        py::arg("input"), py::arg("seed"));

  m.def("word2vec_window_update",
        [](py::array input, py::array output, py::array contexts, py::array targets, float alpha,
           bool skip_gram) {
          EMBFORGE_CHECK(input.ndim() == 2, "input must be 2-D");
          const int64_t vocab = input.shape(0);
          const auto dim = input.shape(1);
          Word2VecModel model;
          model.vocab_size = vocab;
          model.input = checked_data<float>(input, "input", {vocab, dim}, true);
          model.output = checked_data<float>(output, "output", {vocab, dim}, true);
          Word2VecParams params;
          params.vector_size = static_cast<int>(dim);
          params.skip_gram = skip_gram;
          params.negative = static_cast<int>(targets.size()) - 1;
          params.window = static_cast<int>((contexts.size() + 1) / 2);
          EMBFORGE_CHECK(params.negative >= 0, "targets must hold the center word");
          const auto* ctx = checked_data<uint32_t>(contexts, "contexts", {-1}, false);
          const auto* tgt = checked_data<uint32_t>(targets, "targets", {-1}, false);
          return word2vec_window_update(params, model, ctx, static_cast<int>(contexts.size()), tgt,
                                        alpha);
        },
        py::arg("input"), py::arg("output"), py::arg("contexts"), py::arg("targets"),
        py::arg("alpha"), py::arg("skip_gram"),
        "One window's update as training does it (for tests against a reference).");

  m.def("train_word2vec_epoch",
        [](py::array ids, py::array offsets, py::array input, py::array output,
           py::array keep_threshold, py::array noise_keep, py::array noise_alias,
           bool skip_gram, int window, int negative, bool shrink_windows, float alpha_start,
           float alpha_end, uint64_t seed, int epoch, int workers,
           std::shared_ptr<Progress> progress, int64_t hot_rows) {
          EMBFORGE_CHECK(input.ndim() == 2, "input must be 2-D, got ", input.ndim(), "-D");
          const int64_t vocab = input.shape(0);
          const auto dim = input.shape(1);
          const CorpusView corpus = corpus_view(ids, offsets, vocab);
          Word2VecModel model;
          model.vocab_size = vocab;
          model.input = checked_data<float>(input, "input", {vocab, dim}, true);
          model.output = checked_data<float>(output, "output", {vocab, dim}, true);
          model.keep_threshold = checked_data<uint32_t>(keep_threshold, "keep_threshold", {vocab}, false);
          model.noise_keep = checked_data<uint32_t>(noise_keep, "noise_keep", {vocab}, false);
          model.noise_alias = checked_data<uint32_t>(noise_alias, "noise_alias", {vocab}, false);
          Word2VecParams params;
          params.vector_size = static_cast<int>(dim);
          params.window = window;
          params.negative = negative;
          params.skip_gram = skip_gram;
          params.shrink_windows = shrink_windows;
          params.alpha_start = alpha_start;
          params.alpha_end = alpha_end;
          params.seed = seed;
          params.epoch = epoch;
          params.workers = workers;
          EMBFORGE_CHECK(hot_rows >= -1, "hot_rows must be >= -1 (-1: automatic), got ", hot_rows);
          params.hot_rows = hot_rows;
          EpochStats stats;
          {
            py::gil_scoped_release release;
            stats = train_word2vec_epoch(params, corpus, model, progress.get());
          }
          py::dict out;
          out["loss"] = stats.loss;
          out["loss_terms"] = stats.loss_terms;
          out["ids_processed"] = stats.ids_processed;
          out["words_trained"] = stats.words_trained;
          out["stopped"] = stats.stopped;
          return out;
        },
        py::arg("ids"), py::arg("offsets"), py::arg("input"), py::arg("output"),
        py::arg("keep_threshold"), py::arg("noise_keep"), py::arg("noise_alias"), py::kw_only(),
        py::arg("skip_gram"), py::arg("window"), py::arg("negative"), py::arg("shrink_windows"),
        py::arg("alpha_start"), py::arg("alpha_end"), py::arg("seed"), py::arg("epoch"),
        py::arg("workers"), py::arg("progress"), py::arg("hot_rows") = -1);
}

}  // namespace embforge::bind
