// word2vec launchers: one call trains a range of stream positions on the
// launch's stream; the Python CUDA backend loops over ranges.
#include "bindings.h"
#include "embforge/check.h"
#include "embforge/word2vec.h"

namespace embforge::cuda::bind {

void bind_word2vec(py::module_& m) {
  m.def("word2vec_train_range",
        [](uintptr_t ids, uintptr_t offsets, int64_t n_ids, int64_t n_sentences, uintptr_t input,
           uintptr_t output, int64_t vocab_size, uintptr_t keep_threshold, uintptr_t noise_keep,
           uintptr_t noise_alias, uintptr_t loss, uintptr_t counts, const Word2VecParams& params,
           const Launch& launch, int64_t begin, int64_t end) {
          const CorpusView corpus = device_corpus(ids, offsets, n_ids, n_sentences);
          Word2VecModel model;
          model.input = device_ptr<float>(input);
          model.output = device_ptr<float>(output);
          model.vocab_size = vocab_size;
          set_device_sampling_tables(model, keep_threshold, noise_keep, noise_alias);
          py::gil_scoped_release release;
          word2vec_train_range(params, corpus, model, begin, end, device_ptr<double>(loss),
                               device_ptr<unsigned long long>(counts), launch);
        },
        py::arg("ids"), py::arg("offsets"), py::arg("n_ids"), py::arg("n_sentences"),
        py::arg("input"), py::arg("output"), py::arg("vocab_size"), py::arg("keep_threshold"),
        py::arg("noise_keep"), py::arg("noise_alias"), py::arg("loss"), py::arg("counts"),
        py::arg("params"), py::arg("launch"), py::kw_only(), py::arg("begin"), py::arg("end"),
        "Queues training on stream positions [begin, end) (device pointers as ints; the rows have\n"
        "params.vector_size floats); adds the loss to loss[0] (float64) and loss terms, words\n"
        "trained to counts[0:2] (int64).");

  m.def("word2vec_init_input",
        [](uintptr_t input, int64_t rows, int dim, uint64_t seed, const Launch& launch) {
          py::gil_scoped_release release;
          word2vec_init_input(device_ptr<float>(input), rows, dim, seed, launch);
        },
        py::arg("input"), py::arg("rows"), py::arg("dim"), py::arg("seed"), py::arg("launch"),
        "Queues the CPU's init_word2vec_input on rows [0, rows) of a device matrix.");
}

}  // namespace embforge::cuda::bind
