// word2vec launchers: one call trains a range of stream positions on the
// caller's stream; python/embforge/cuda_backend.py loops over ranges.
#include "bindings.h"
#include "embforge/check.h"
#include "embforge/cuda_kernels.h"

namespace embforge::cuda::bind {

void bind_word2vec(py::module_& m) {
  m.def("word2vec_train_range",
        [](uintptr_t ids, uintptr_t offsets, int64_t n_ids, int64_t n_sentences, uintptr_t input,
           uintptr_t output, int64_t vocab_size, int dim, uintptr_t keep_threshold,
           uintptr_t noise_keep, uintptr_t noise_alias, uintptr_t loss, uintptr_t counts,
           int64_t begin, int64_t end, bool skip_gram, int window, int negative,
           bool shrink_windows, float alpha_start, float alpha_end, uint64_t seed, int epoch,
           int device, uintptr_t stream, int warps_per_block, int span, int batch) {
          Word2VecLaunch w;
          w.ids = device_ptr<const uint32_t>(ids);
          w.offsets = device_ptr<const int64_t>(offsets);
          w.n_ids = n_ids;
          w.n_sentences = n_sentences;
          w.input = device_ptr<float>(input);
          w.output = device_ptr<float>(output);
          w.vocab_size = vocab_size;
          w.dim = dim;
          w.keep_threshold = device_ptr<const uint32_t>(keep_threshold);
          w.noise_keep = device_ptr<const uint32_t>(noise_keep);
          w.noise_alias = device_ptr<const uint32_t>(noise_alias);
          w.loss = device_ptr<double>(loss);
          w.counts = device_ptr<unsigned long long>(counts);
          w.skip_gram = skip_gram;
          w.window = window;
          w.negative = negative;
          w.shrink_windows = shrink_windows;
          w.alpha_start = alpha_start;
          w.alpha_end = alpha_end;
          w.seed = seed;
          w.epoch = epoch;
          w.warps_per_block = warps_per_block;
          w.span = span;
          w.batch = batch;
          py::gil_scoped_release release;
          word2vec_train_range(w, begin, end, device, stream);
        },
        py::arg("ids"), py::arg("offsets"), py::arg("n_ids"), py::arg("n_sentences"),
        py::arg("input"), py::arg("output"), py::arg("vocab_size"), py::arg("dim"),
        py::arg("keep_threshold"), py::arg("noise_keep"), py::arg("noise_alias"),
        py::arg("loss"), py::arg("counts"), py::kw_only(), py::arg("begin"), py::arg("end"),
        py::arg("skip_gram"), py::arg("window"), py::arg("negative"),
        py::arg("shrink_windows"), py::arg("alpha_start"), py::arg("alpha_end"),
        py::arg("seed"), py::arg("epoch"), py::arg("device"), py::arg("stream"),
        py::arg("warps_per_block") = 0, py::arg("span") = 0, py::arg("batch") = 0,
        "Queues training on stream positions [begin, end) (device pointers as ints); adds the "
        "loss to loss[0] (float64) and loss terms, words trained to counts[0:2] (int64).");

  m.def("word2vec_init_input",
        [](uintptr_t input, int64_t rows, int dim, uint64_t seed, int device, uintptr_t stream) {
          py::gil_scoped_release release;
          word2vec_init_input(device_ptr<float>(input), rows, dim, seed, device, stream);
        },
        py::arg("input"), py::arg("rows"), py::arg("dim"), py::arg("seed"), py::kw_only(),
        py::arg("device"), py::arg("stream"),
        "Queues the CPU's init_word2vec_input on rows [0, rows) of a device matrix.");
}

}  // namespace embforge::cuda::bind
