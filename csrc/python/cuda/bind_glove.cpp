// Co-occurrence and GloVe launchers (device pointers as ints, see bindings.h).
#include <memory>

#include "bindings.h"
#include "embforge/check.h"
#include "embforge/cooccur.h"
#include "embforge/glove.h"
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
           const CooccurParams& params, uintptr_t workspace, int64_t workspace_bytes,
           const Launch& launch, std::shared_ptr<Progress> progress) {
          const CorpusView corpus = device_corpus(ids, offsets, n_ids, n_sentences);
          CooccurCount r;
          {
            py::gil_scoped_release release;
            r = cooccur_count(params, corpus, vocab_size, device_ptr<void>(workspace), workspace_bytes,
                              launch, progress.get());
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
        py::arg("vocab_size"), py::arg("params"), py::arg("workspace"), py::arg("workspace_bytes"),
        py::arg("launch"), py::kw_only(), py::arg("progress") = py::none(),
        "Counts the co-occurrence matrix into the workspace (waits for the stream; reads\n"
        "params.window, symmetric, distance_weighting); returns nnz, stats and the addresses of\n"
        "the result's keys and values for cooccur_export.");

  m.def("cooccur_export",
        [](uintptr_t keys, uintptr_t values, int64_t nnz, int64_t vocab_size, int fraction_bits,
           uintptr_t rows, uintptr_t cols, uintptr_t out_values, const Launch& launch) {
          CooccurCount r;
          r.keys = device_ptr<const uint64_t>(keys);
          r.values = device_ptr<const uint64_t>(values);
          r.nnz = nnz;
          r.fraction_bits = fraction_bits;
          py::gil_scoped_release release;
          cooccur_export(r, vocab_size, device_ptr<int32_t>(rows), device_ptr<int32_t>(cols),
                         device_ptr<float>(out_values), launch);
        },
        py::arg("keys"), py::arg("values"), py::arg("nnz"), py::arg("vocab_size"),
        py::arg("fraction_bits"), py::arg("rows"), py::arg("cols"), py::arg("out_values"),
        py::arg("launch"),
        "Queues the conversion of a count to COO int32 rows, cols and float32 values.");
}

void bind_glove(py::module_& m) {
  m.def("glove_make_pairs",
        [](uintptr_t rows, uintptr_t cols, uintptr_t values, int64_t n, int64_t vocab_size,
           double x_max, double alpha, uintptr_t pairs, uintptr_t invalid, const Launch& launch) {
          py::gil_scoped_release release;
          glove_make_pairs(device_ptr<const int32_t>(rows), device_ptr<const int32_t>(cols),
                           device_ptr<const float>(values), n, vocab_size, x_max, alpha,
                           device_ptr<uint32_t>(pairs), device_ptr<unsigned long long>(invalid),
                           launch);
        },
        py::arg("rows"), py::arg("cols"), py::arg("values"), py::arg("n"), py::arg("vocab_size"),
        py::arg("x_max"), py::arg("alpha"), py::arg("pairs"), py::arg("invalid"), py::arg("launch"),
        "Queues make_glove_pairs on the device; invalid entries are counted into invalid[0].");

  m.def("glove_init",
        [](uintptr_t weights, uintptr_t gradsq, int64_t rows, int dim, uint64_t seed,
           const Launch& launch) {
          py::gil_scoped_release release;
          glove_init(device_ptr<float>(weights), device_ptr<float>(gradsq), rows, dim, seed, launch);
        },
        py::arg("weights"), py::arg("gradsq"), py::arg("rows"), py::arg("dim"), py::arg("seed"),
        py::arg("launch"), "Queues init_glove on rows [0, rows) of device weights and gradsq.");

  m.def("glove_train_range",
        [](uintptr_t pairs, uintptr_t order, int64_t n_pairs, uintptr_t weights, uintptr_t gradsq,
           int64_t vocab_size, uintptr_t cost, uintptr_t counts, const GloveParams& params,
           const Launch& launch, int64_t begin, int64_t end) {
          GloveModel model;
          model.weights = device_ptr<float>(weights);
          model.gradsq = device_ptr<float>(gradsq);
          model.vocab_size = vocab_size;
          py::gil_scoped_release release;
          glove_train_range(params, device_ptr<const glove::Pair>(pairs),
                            device_ptr<const uint32_t>(order), n_pairs, model, begin, end,
                            device_ptr<double>(cost), device_ptr<unsigned long long>(counts), launch);
        },
        py::arg("pairs"), py::arg("order"), py::arg("n_pairs"), py::arg("weights"),
        py::arg("gradsq"), py::arg("vocab_size"), py::arg("cost"), py::arg("counts"),
        py::arg("params"), py::arg("launch"), py::kw_only(), py::arg("begin"), py::arg("end"),
        "Queues steps [begin, end) of a GloVe epoch (order=0: the device permutation keyed by\n"
        "params.seed and epoch; rows have params.vector_size + 1 floats); adds the cost to\n"
        "cost[0] (float64) and pairs, skipped to counts[0:2] (int64).");
}

}  // namespace embforge::cuda::bind
