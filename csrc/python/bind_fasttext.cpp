#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.h"
#include "embforge/fasttext.h"
#include "fasttext_bindings.h"
#include "embforge/fasttext_ngrams.h"
#include "sgns_bindings.h"

namespace embforge::bind {
namespace {

py::array_t<uint32_t> ngram_rows(const std::string& word, int min_n, int max_n, int64_t bucket) {
  EMBFORGE_CHECK(min_n >= 1 && max_n >= min_n, "need 1 <= min_n <= max_n, got min_n=", min_n,
                 ", max_n=", max_n);
  EMBFORGE_CHECK(bucket >= 1 && bucket <= 0xFFFFFFFFll, "bucket must be in [1, 2^32 - 1], got ", bucket);
  std::vector<uint32_t> rows;
  ft::for_each_ngram(word.data(), static_cast<int64_t>(word.size()), min_n, max_n,
                     [&](int64_t, int64_t, uint32_t h) {
                       rows.push_back(static_cast<uint32_t>(h % static_cast<uint32_t>(bucket)));
                     });
  return to_numpy(std::move(rows));
}

}  // namespace

void bind_fasttext(py::module_& m) {
  py::class_<FastTextParams> params(
      m, "FastTextParams", "FastText's parameters (fasttext.h): _core.train_fasttext_epoch takes them.");
  def_sampling_fields(params);
  params.def_readwrite("min_n", &FastTextParams::min_n)
      .def_readwrite("max_n", &FastTextParams::max_n)
      .def_readwrite("bucket", &FastTextParams::bucket);
  def_fields_init_repr(params, "FastTextParams", sampling_fields_and({"min_n", "max_n", "bucket"}));

  m.def("fasttext_hash", [](const py::bytes& data) {
          const std::string s = data;
          return ft::hash_bytes(s.data(), static_cast<int64_t>(s.size()));
        },
        py::arg("data"), "fastText's FNV-1a hash of bytes (each taken as a signed char).");

  m.def("fasttext_ngrams",
        [](const std::string& word, int min_n, int max_n) {
          const std::string bracketed = "<" + word + ">";
          py::list out;
          ft::for_each_ngram(word.data(), static_cast<int64_t>(word.size()), min_n, max_n,
                             [&](int64_t begin, int64_t end, uint32_t) {
                               out.append(py::bytes(bracketed.substr(begin, end - begin)));
                             });
          return out;
        },
        py::arg("word"), py::arg("min_n"), py::arg("max_n"),
        "The n-grams of <word> as UTF-8 bytes, in fastText's order.");

  m.def("fasttext_ngram_rows", &ngram_rows, py::arg("word"), py::arg("min_n"), py::arg("max_n"),
        py::arg("bucket"), "hash % bucket of each n-gram of <word> (uint32, fastText's order).");

  m.def("fasttext_subwords",
        [](const std::vector<std::string>& words, int min_n, int max_n, int64_t bucket) {
          Subwords subwords;
          {
            py::gil_scoped_release release;
            subwords = fasttext_subwords(words, min_n, max_n, bucket);
          }
          return py::make_tuple(to_numpy(std::move(subwords.offsets)), to_numpy(std::move(subwords.ids)));
        },
        py::arg("words"), py::arg("min_n"), py::arg("max_n"), py::arg("bucket"),
        "(offsets int64 [V + 1], ids uint32): word w's input rows are ids[offsets[w]:offsets[w+1]],\n"
        "its own row w, then V + hash % bucket of each n-gram.");

  m.def("fasttext_word_vectors",
        [](py::array input, py::array offsets, py::array ids, int64_t bucket, py::array out,
           int workers) {
          const FastTextModel model = checked_fasttext_model(input, nullptr, offsets, ids, bucket);
          const auto dim = input.shape(1);
          float* target = checked_data<float>(out, "out", {model.vocab_size, dim}, true);
          py::gil_scoped_release release;
          fasttext_word_vectors(model, static_cast<int>(dim), target, workers);
        },
        py::arg("input"), py::arg("subword_offsets"), py::arg("subword_ids"), py::arg("bucket"),
        py::arg("out"), py::arg("workers") = 1,
        "out[w] = the mean of word w's subword rows of input, for every vocabulary word.");

  m.def("fasttext_window_update",
        [](py::array input, py::array output, py::array offsets, py::array ids, int64_t bucket,
           py::array inputs, py::array targets, float alpha) {
          const FastTextModel model = checked_fasttext_model(input, &output, offsets, ids, bucket);
          EMBFORGE_CHECK(targets.ndim() == 2 && targets.shape(1) >= 1,
                         "targets must be 2-D [sets, 1 + negative]");
          FastTextParams params;
          params.vector_size = static_cast<int>(input.shape(1));
          params.negative = static_cast<int>(targets.shape(1)) - 1;
          params.bucket = bucket;
          const auto* in = checked_data<uint32_t>(inputs, "inputs", {-1}, false);
          const auto* tg = checked_data<uint32_t>(targets, "targets", {-1, -1}, false);
          return fasttext_window_update(params, model, in, static_cast<int>(inputs.size()), tg,
                                        static_cast<int>(targets.shape(0)), alpha);
        },
        py::arg("input"), py::arg("output"), py::arg("subword_offsets"), py::arg("subword_ids"),
        py::arg("bucket"), py::arg("inputs"), py::arg("targets"), py::arg("alpha"),
        "One window's update as training does it (fasttext.h), for tests against a reference.");

  m.def("fasttext_sentence",
        [](py::array input, py::array output, py::array offsets, py::array ids, int64_t bucket,
           py::array words, py::array reaches, py::array noise, int window, float alpha,
           bool skip_gram) {
          const FastTextModel model = checked_fasttext_model(input, &output, offsets, ids, bucket);
          EMBFORGE_CHECK(noise.ndim() == 2, "noise must be 2-D [words, negative]");
          FastTextParams params;
          params.vector_size = static_cast<int>(input.shape(1));
          params.window = window;
          params.skip_gram = skip_gram;
          params.negative = static_cast<int>(noise.shape(1));
          params.bucket = bucket;
          const auto* w = checked_data<uint32_t>(words, "words", {-1}, false);
          const int64_t n = words.size();
          const auto* r = checked_data<int32_t>(reaches, "reaches", {n}, false);
          const auto* z = checked_data<uint32_t>(noise, "noise", {n, -1}, false);
          return fasttext_sentence(params, model, w, static_cast<int>(n), r, z, alpha);
        },
        py::arg("input"), py::arg("output"), py::arg("subword_offsets"), py::arg("subword_ids"),
        py::arg("bucket"), py::arg("words"), py::arg("reaches"), py::arg("noise"),
        py::arg("window"), py::arg("alpha"), py::kw_only(), py::arg("skip_gram") = false,
        "Skip-gram or CBOW over one sentence as training does it (fasttext.h), for tests\n"
        "against a reference.");

  m.def("train_fasttext_epoch",
        [](py::array ids, py::array offsets, py::array input, py::array output,
           py::array subword_offsets, py::array subword_ids, py::array keep_threshold,
           py::array noise_keep, py::array noise_alias, const FastTextParams& params,
           std::shared_ptr<Progress> progress) {
          FastTextModel model = checked_fasttext_model(input, &output, subword_offsets, subword_ids,
                                                       params.bucket);
          EMBFORGE_CHECK(input.shape(1) == params.vector_size, "input has ", input.shape(1),
                         " columns, params.vector_size is ", params.vector_size);
          const CorpusView corpus = corpus_view(ids, offsets, model.vocab_size);
          set_sampling_tables(model, keep_threshold, noise_keep, noise_alias);
          EpochStats stats;
          {
            py::gil_scoped_release release;
            stats = train_fasttext_epoch(params, corpus, model, progress.get());
          }
          return epoch_stats_dict(stats);
        },
        py::arg("ids"), py::arg("offsets"), py::arg("input"), py::arg("output"),
        py::arg("subword_offsets"), py::arg("subword_ids"), py::arg("keep_threshold"),
        py::arg("noise_keep"), py::arg("noise_alias"), py::arg("params"), py::kw_only(),
        py::arg("progress") = py::none(),
        "One epoch with params.workers threads; returns loss, loss_terms, ids_processed,\n"
        "words_trained, stopped.");
}

}  // namespace embforge::bind
