#include "bindings.h"
#include "embforge/noise_table.h"
#include "embforge/word2vec.h"
#include "sgns_bindings.h"

namespace embforge::bind {

void bind_word2vec(py::module_& m) {
  py::class_<Word2VecParams> params(
      m, "Word2VecParams",
      "Word2vec's parameters (word2vec.h), the one set both backends take: "
      "_core.train_word2vec_epoch and _cuda.word2vec_train_range.");
  def_sampling_fields(params);
  params
      .def_readwrite("hot_rows", &Word2VecParams::hot_rows,
                     "rows trained in thread-private copies (-1: automatic, 0: off; CPU)")
      .def_readwrite("slice_index", &Word2VecParams::slice_index,
                     "the part of the epoch's shuffled chunks this call trains (CPU)")
      .def_readwrite("slice_count", &Word2VecParams::slice_count,
                     "parts the epoch is cut into (1: the whole epoch; word2vec_slice_ids)")
      .def_readwrite("rng_start", &Word2VecParams::rng_start,
                     "draws every thread's random stream skips: 0 for an epoch's first slice, "
                     "the previous slice's result['rng_end'] after that")
      .def_readwrite("compute_loss", &Word2VecParams::compute_loss,
                     "False: the CUDA kernels skip the loss (the CPU always computes it)");
  def_fields_init_repr(params, "Word2VecParams",
                       sampling_fields_and({"hot_rows", "slice_index", "slice_count", "rng_start",
                                            "compute_loss"}));

  m.def("word2vec_slice_ids",
        [](py::array offsets, uint64_t seed, int epoch, int slice_count) {
          CorpusView corpus;
          corpus.offsets = checked_data<int64_t>(offsets, "offsets", {-1}, false);
          corpus.n_sentences = offsets.size() - 1;
          EMBFORGE_CHECK(corpus.n_sentences >= 0 && corpus.offsets[0] == 0,
                         "offsets must start at 0 and hold n_sentences + 1 entries");
          for (int64_t s = 0; s < corpus.n_sentences; ++s)
            EMBFORGE_CHECK(corpus.offsets[s] <= corpus.offsets[s + 1], "offsets must not decrease (at ",
                           s, ")");
          corpus.n_ids = corpus.offsets[corpus.n_sentences];
          std::vector<int64_t> ids;
          {
            py::gil_scoped_release release;
            ids = word2vec_slice_ids(corpus, seed, epoch, slice_count);
          }
          return to_numpy(std::move(ids));
        },
        py::arg("offsets"), py::arg("seed"), py::arg("epoch"), py::arg("slice_count"),
        "Ids (stream positions) in each slice of an epoch (Word2VecParams.slice_index), int64\n"
        "[slice_count] in slice order; they sum to offsets[-1].");

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
        [](py::array input, uint64_t seed, float scale, int workers) {
          float* data = checked_data<float>(input, "input", {-1, -1}, true);
          const int64_t rows = input.shape(0);
          const int dim = static_cast<int>(input.shape(1));
          py::gil_scoped_release release;
          init_word2vec_input(data, rows, dim, seed, scale, workers);
        },
        py::arg("input"), py::arg("seed"), py::kw_only(), py::arg("scale") = 1.0f,
        py::arg("workers") = 1,
        "word2vec.c's init of the input rows (uniform in [-0.5, 0.5) / dim, row r from its own\n"
        "stream of `seed`), times `scale`, on `workers` threads (the same numbers for any count).");

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
           const Word2VecParams& params, std::shared_ptr<Progress> progress) {
          EMBFORGE_CHECK(input.ndim() == 2, "input must be 2-D, got ", input.ndim(), "-D");
          const int64_t vocab = input.shape(0);
          const auto dim = input.shape(1);
          EMBFORGE_CHECK(dim == params.vector_size, "input has ", dim,
                         " columns, params.vector_size is ", params.vector_size);
          EMBFORGE_CHECK(params.hot_rows >= -1, "hot_rows must be >= -1 (-1: automatic), got ",
                         params.hot_rows);
          // the ids are checked by the kernel, for the slice it trains (epoch_chunks.h)
          const CorpusView corpus = corpus_view(ids, offsets);
          Word2VecModel model;
          model.vocab_size = vocab;
          model.input = checked_data<float>(input, "input", {vocab, dim}, true);
          model.output = checked_data<float>(output, "output", {vocab, dim}, true);
          set_sampling_tables(model, keep_threshold, noise_keep, noise_alias);
          EpochStats stats;
          {
            py::gil_scoped_release release;
            stats = train_word2vec_epoch(params, corpus, model, progress.get());
          }
          return epoch_stats_dict(stats);
        },
        py::arg("ids"), py::arg("offsets"), py::arg("input"), py::arg("output"),
        py::arg("keep_threshold"), py::arg("noise_keep"), py::arg("noise_alias"), py::arg("params"),
        py::kw_only(), py::arg("progress") = py::none(),
        "One epoch, or one slice of it (params.slice_index of slice_count; the learning rate runs\n"
        "from params.alpha_start to alpha_end over the ids trained), with params.workers threads;\n"
        "returns this call's loss, loss_terms, ids_processed, words_trained, stopped and rng_end\n"
        "(params.rng_start of the next slice).");
}

}  // namespace embforge::bind
