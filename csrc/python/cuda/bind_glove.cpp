// Co-occurrence and GloVe launchers (device pointers as ints, see bindings.h).
#include <memory>

#include "bindings.h"
#include "embforge/check.h"
#include "embforge/cuda_kernels.h"
#include "embforge/progress.h"

namespace embforge::cuda::bind {

void bind_cooccur(py::module_& m) {
  m.def("cooccur_capacity",
        [](int64_t workspace_bytes, int64_t vocab_size, int device) {
          return cooccur_capacity(workspace_bytes, vocab_size, device);
        },
        py::arg("workspace_bytes"), py::arg("vocab_size"), py::arg("device"),
        "Entries per sort buffer a workspace of that size holds.");

  m.def("cooccur_count",
        [](uintptr_t ids, uintptr_t offsets, int64_t n_ids, int64_t n_sentences, int64_t vocab_size,
           int window, bool symmetric, bool distance_weighting, uintptr_t workspace,
           int64_t workspace_bytes, int device, uintptr_t stream, std::shared_ptr<Progress> progress) {
          CooccurLaunch c;
          c.ids = device_ptr<const uint32_t>(ids);
          c.offsets = device_ptr<const int64_t>(offsets);
          c.n_ids = n_ids;
          c.n_sentences = n_sentences;
          c.vocab_size = vocab_size;
          c.window = window;
          c.symmetric = symmetric;
          c.distance_weighting = distance_weighting;
          c.workspace = device_ptr<void>(workspace);
          c.workspace_bytes = workspace_bytes;
          CooccurCount r;
          {
            py::gil_scoped_release release;
            r = cooccur_count(c, device, stream, progress.get());
          }
          py::dict out;
          out["nnz"] = r.nnz;
          out["pair_updates"] = r.pair_updates;
          out["chunks"] = r.chunks;
          out["capacity"] = r.capacity;
          out["fraction_bits"] = r.fraction_bits;
          out["stopped"] = r.stopped;
          out["keys"] = reinterpret_cast<uintptr_t>(r.keys);
          out["values"] = reinterpret_cast<uintptr_t>(r.values);
          return out;
        },
        py::arg("ids"), py::arg("offsets"), py::arg("n_ids"), py::arg("n_sentences"),
        py::arg("vocab_size"), py::kw_only(), py::arg("window"), py::arg("symmetric"),
        py::arg("distance_weighting"), py::arg("workspace"), py::arg("workspace_bytes"),
        py::arg("device"), py::arg("stream"), py::arg("progress") = py::none(),
        "Counts the co-occurrence matrix into the workspace (waits for the stream); returns "
        "nnz, stats and the addresses of the result's keys and values for cooccur_export.");

  m.def("cooccur_export",
        [](uintptr_t keys, uintptr_t values, int64_t nnz, int64_t vocab_size, int fraction_bits,
           uintptr_t rows, uintptr_t cols, uintptr_t out_values, int device, uintptr_t stream) {
          CooccurCount r;
          r.keys = device_ptr<const uint64_t>(keys);
          r.values = device_ptr<const uint64_t>(values);
          r.nnz = nnz;
          r.fraction_bits = fraction_bits;
          py::gil_scoped_release release;
          cooccur_export(r, vocab_size, device_ptr<int32_t>(rows), device_ptr<int32_t>(cols),
                         device_ptr<float>(out_values), device, stream);
        },
        py::arg("keys"), py::arg("values"), py::arg("nnz"), py::arg("vocab_size"),
        py::arg("fraction_bits"), py::arg("rows"), py::arg("cols"), py::arg("out_values"),
        py::kw_only(), py::arg("device"), py::arg("stream"),
        "Queues the conversion of a count to COO int32 rows, cols and float32 values.");
}

void bind_glove(py::module_& m) {
  m.def("glove_make_pairs",
        [](uintptr_t rows, uintptr_t cols, uintptr_t values, int64_t n, int64_t vocab_size,
           double x_max, double alpha, uintptr_t pairs, uintptr_t invalid, int device,
           uintptr_t stream) {
          py::gil_scoped_release release;
          glove_make_pairs(device_ptr<const int32_t>(rows), device_ptr<const int32_t>(cols),
                           device_ptr<const float>(values), n, vocab_size, x_max, alpha,
                           device_ptr<uint32_t>(pairs), device_ptr<unsigned long long>(invalid),
                           device, stream);
        },
        py::arg("rows"), py::arg("cols"), py::arg("values"), py::arg("n"), py::arg("vocab_size"),
        py::arg("x_max"), py::arg("alpha"), py::arg("pairs"), py::arg("invalid"), py::kw_only(),
        py::arg("device"), py::arg("stream"),
        "Queues make_glove_pairs on the device; invalid entries are counted into invalid[0].");

  m.def("glove_init",
        [](uintptr_t weights, uintptr_t gradsq, int64_t rows, int dim, uint64_t seed, int device,
           uintptr_t stream) {
          py::gil_scoped_release release;
          glove_init(device_ptr<float>(weights), device_ptr<float>(gradsq), rows, dim, seed, device,
                     stream);
        },
        py::arg("weights"), py::arg("gradsq"), py::arg("rows"), py::arg("dim"), py::arg("seed"),
        py::kw_only(), py::arg("device"), py::arg("stream"));

  m.def("glove_train_range",
        [](uintptr_t pairs, uintptr_t order, int64_t n_pairs, uintptr_t weights, uintptr_t gradsq,
           int64_t vocab_size, int dim, uintptr_t cost, uintptr_t counts, int64_t begin, int64_t end,
           float learning_rate, float grad_clip, uint64_t seed, int epoch, int device,
           uintptr_t stream, int warps_per_block) {
          GloveLaunch l;
          l.pairs = device_ptr<const uint32_t>(pairs);
          l.order = device_ptr<const uint32_t>(order);
          l.n_pairs = n_pairs;
          l.weights = device_ptr<float>(weights);
          l.gradsq = device_ptr<float>(gradsq);
          l.vocab_size = vocab_size;
          l.dim = dim;
          l.cost = device_ptr<double>(cost);
          l.counts = device_ptr<unsigned long long>(counts);
          l.learning_rate = learning_rate;
          l.grad_clip = grad_clip;
          l.seed = seed;
          l.epoch = epoch;
          l.warps_per_block = warps_per_block;
          py::gil_scoped_release release;
          glove_train_range(l, begin, end, device, stream);
        },
        py::arg("pairs"), py::arg("order"), py::arg("n_pairs"), py::arg("weights"),
        py::arg("gradsq"), py::arg("vocab_size"), py::arg("dim"), py::arg("cost"), py::arg("counts"),
        py::kw_only(), py::arg("begin"), py::arg("end"), py::arg("learning_rate"),
        py::arg("grad_clip"), py::arg("seed"), py::arg("epoch"), py::arg("device"),
        py::arg("stream"), py::arg("warps_per_block") = 0,
        "Queues steps [begin, end) of a GloVe epoch (order=0: the keyed device permutation); adds "
        "the cost to cost[0] (float64) and pairs, skipped to counts[0:2] (int64).");
}

}  // namespace embforge::cuda::bind
