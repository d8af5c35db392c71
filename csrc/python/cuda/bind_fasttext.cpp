// FastText launchers: one call trains a range of stream positions on the
// launch's stream (the Python CUDA backend loops over ranges); the init and
// the composed word vectors are one launch each.
#include "bindings.h"
#include "embforge/check.h"
#include "embforge/fasttext.h"

namespace embforge::cuda::bind {
namespace {

// The model as device pointers: input [vocab_size + bucket, dim], subword
// lists as CSR (offsets [vocab_size + 1] int64, ids uint32). The Python
// launch loop checks shapes, dtypes and the lists' values on the device.
FastTextModel device_model(uintptr_t input, uintptr_t output, int64_t vocab_size, int64_t bucket,
                           uintptr_t subword_offsets, uintptr_t subword_ids) {
  FastTextModel model;
  model.input = device_ptr<float>(input);
  model.output = device_ptr<float>(output);
  model.vocab_size = vocab_size;
  model.bucket = bucket;
  model.subword_offsets = device_ptr<const int64_t>(subword_offsets);
  model.subword_ids = device_ptr<const uint32_t>(subword_ids);
  return model;
}

}  // namespace

void bind_fasttext(py::module_& m) {
  m.def("fasttext_train_range",
        [](uintptr_t ids, uintptr_t offsets, int64_t n_ids, int64_t n_sentences, uintptr_t input,
           uintptr_t output, int64_t vocab_size, int64_t bucket, uintptr_t subword_offsets,
           uintptr_t subword_ids, uintptr_t keep_threshold, uintptr_t noise_keep,
           uintptr_t noise_alias, uintptr_t loss, uintptr_t counts, const FastTextParams& params,
           const Launch& launch, int64_t begin, int64_t end) {
          const CorpusView corpus = device_corpus(ids, offsets, n_ids, n_sentences);
          FastTextModel model = device_model(input, output, vocab_size, bucket, subword_offsets, subword_ids);
          set_device_sampling_tables(model, keep_threshold, noise_keep, noise_alias);
          py::gil_scoped_release release;
          fasttext_train_range(params, corpus, model, begin, end, device_ptr<double>(loss),
                               device_ptr<unsigned long long>(counts), launch);
        },
        py::arg("ids"), py::arg("offsets"), py::arg("n_ids"), py::arg("n_sentences"),
        py::arg("input"), py::arg("output"), py::arg("vocab_size"), py::arg("bucket"),
        py::arg("subword_offsets"), py::arg("subword_ids"), py::arg("keep_threshold"),
        py::arg("noise_keep"), py::arg("noise_alias"), py::arg("loss"), py::arg("counts"),
        py::arg("params"), py::arg("launch"), py::kw_only(), py::arg("begin"), py::arg("end"),
        "Queues FastText training on stream positions [begin, end) (device pointers as ints; input\n"
        "has vocab_size + bucket rows of params.vector_size floats); adds the loss to loss[0]\n"
        "(float64) and loss terms, words trained to counts[0:2] (int64).");

  m.def("fasttext_init_input",
        [](uintptr_t input, int64_t rows, int dim, uint64_t seed, float scale, const Launch& launch) {
          py::gil_scoped_release release;
          fasttext_init_input(device_ptr<float>(input), rows, dim, seed, scale, launch);
        },
        py::arg("input"), py::arg("rows"), py::arg("dim"), py::arg("seed"), py::arg("scale"),
        py::arg("launch"),
        "Queues the CPU backend's FastText init (init_word2vec_input times scale) on rows [0, rows).");

  m.def("fasttext_word_vectors",
        [](uintptr_t input, int64_t vocab_size, int64_t bucket, uintptr_t subword_offsets,
           uintptr_t subword_ids, int dim, uintptr_t out, const Launch& launch) {
          const FastTextModel model = device_model(input, 0, vocab_size, bucket, subword_offsets, subword_ids);
          py::gil_scoped_release release;
          fasttext_word_vectors(model, dim, device_ptr<float>(out), launch);
        },
        py::arg("input"), py::arg("vocab_size"), py::arg("bucket"), py::arg("subword_offsets"),
        py::arg("subword_ids"), py::arg("dim"), py::arg("out"), py::arg("launch"),
        "Queues out[w] = the mean of word w's subword rows of input, for w < vocab_size.");
}

}  // namespace embforge::cuda::bind
