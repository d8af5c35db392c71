// Co-occurrence counting and GloVe training bindings: convert and validate,
// then release the GIL for the native call.
#include <Python.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "bindings.h"
#include "embforge/cooccur.h"
#include "embforge/glove.h"
#include "embforge/glove_records.h"
#include "glove_bindings.h"

namespace embforge::bind {
namespace {

// Hands a malloc'd array to numpy without copying; numpy frees it.
template <typename T>
py::array_t<T> to_numpy(MallocArray<T>&& values) {
  const auto n = static_cast<py::ssize_t>(values.size());
  T* data = values.release();
  py::capsule owner(data, [](void* p) { std::free(p); });
  return py::array_t<T>({n}, {static_cast<py::ssize_t>(sizeof(T))}, data, owner);
}

py::dict stats_dict(const CooccurStats& s) {
  py::dict out;
  out["ids_processed"] = s.ids_processed;
  out["pair_updates"] = s.pair_updates;
  out["dense_updates"] = s.dense_updates;
  out["max_product"] = s.max_product;
  out["dense_bytes"] = s.dense_bytes;
  out["buffer_bytes"] = s.buffer_bytes;
  out["runs"] = s.runs;
  out["spilled_runs"] = s.spilled_runs;
  out["spilled_bytes"] = s.spilled_bytes;
  out["merge_passes"] = s.merge_passes;
  out["planned_peak_bytes"] = s.planned_peak_bytes;
  out["fraction_bits"] = s.fraction_bits;
  out["count_seconds"] = s.count_seconds;
  out["merge_seconds"] = s.merge_seconds;
  out["stopped"] = s.stopped;
  return out;
}

const glove::Pair* pair_data(py::array& pairs) {
  return reinterpret_cast<const glove::Pair*>(checked_data<uint32_t>(pairs, "pairs", {-1, 4}, false));
}

}  // namespace

void bind_glove_params(py::module_& m) {
  py::class_<GloveParams> params(
      m, "GloveParams",
      "GloVe's training parameters (glove.h), the one set both backends take: "
      "_core.train_glove_epoch, GloveBlockFile.train_epoch and _cuda.glove_train_range.");
  params
      .def_readwrite("vector_size", &GloveParams::vector_size)
      .def_readwrite("learning_rate", &GloveParams::learning_rate, "glove.c's eta")
      .def_readwrite("grad_clip", &GloveParams::grad_clip)
      .def_readwrite("bias_learning_rate", &GloveParams::bias_learning_rate,
                     "scales the bias gradient (glove.c: 1)")
      .def_readwrite("seed", &GloveParams::seed, "with epoch, keys the CUDA visiting order")
      .def_readwrite("epoch", &GloveParams::epoch)
      .def_readwrite("workers", &GloveParams::workers, "CPU threads");
  def_fields_init_repr(params, "GloveParams",
                       {"vector_size", "learning_rate", "grad_clip", "bias_learning_rate", "seed", "epoch",
                        "workers"});
}

void bind_cooccur_params(py::module_& m) {
  py::class_<CooccurParams> params(
      m, "CooccurParams",
      "Co-occurrence counting parameters (cooccur.h), the one set both backends take: "
      "_core.count_cooccurrences and _cuda.cooccur_count (which reads window, symmetric and "
      "distance_weighting).");
  params
      .def_readwrite("window", &CooccurParams::window)
      .def_readwrite("symmetric", &CooccurParams::symmetric, "False: left context only")
      .def_readwrite("distance_weighting", &CooccurParams::distance_weighting, "w(d) = 1/d, else 1")
      .def_readwrite("workers", &CooccurParams::workers, "CPU threads")
      .def_readwrite("memory_bytes", &CooccurParams::memory_bytes, "CPU memory budget")
      .def_readwrite("temp_dir", &CooccurParams::temp_dir, "existing directory for spilled runs")
      .def_readwrite("max_product", &CooccurParams::max_product,
                     "dense table's rank-product limit (-1: from the budget, 0: none)")
      .def_readwrite("result_dir", &CooccurParams::result_dir,
                     "where the result may go as files ('': memory only)")
      .def_readwrite("result_to_files", &CooccurParams::result_to_files)
      .def_readwrite("fraction_bits", &CooccurParams::fraction_bits,
                     "fixed-point grid (-1: from this corpus; parts of one count pass "
                     "cooccurrence_fraction_bits of the whole)")
      .def_readwrite("fixed_point_output", &CooccurParams::fixed_point_output,
                     "values as the exact int64 fixed-point sums (CPU; in the .values files too)")
      .def_readwrite("glove_fd", &CooccurParams::glove_fd,
                     "an open file the result goes to as glove.c's records (-1: memory)")
      .def_readwrite("glove_name", &CooccurParams::glove_name, "that file's name, for errors");
  def_fields_init_repr(params, "CooccurParams",
                       {"window", "symmetric", "distance_weighting", "workers", "memory_bytes", "temp_dir",
                        "max_product", "result_dir", "result_to_files", "fraction_bits",
                        "fixed_point_output", "glove_fd", "glove_name"});
}

void bind_glove(py::module_& m) {
  bind_cooccur_params(m);
  bind_glove_params(m);

  // A spill-file failure is an OSError with its errno (PermissionError,
  // disk full, ...), not a RuntimeError.
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const FileError& e) {
      py::tuple args = py::make_tuple(e.error_number(), std::string(e.what()));
      PyErr_SetObject(PyExc_OSError, args.ptr());
    }
  });

  m.def("count_cooccurrences",
        [](py::array ids, py::array offsets, int64_t vocab_size, const CooccurParams& params,
           std::shared_ptr<Progress> progress) {
          const CorpusView corpus = corpus_view(ids, offsets);
          CooccurMatrix result;
          {
            py::gil_scoped_release release;
            result = count_cooccurrences(params, corpus, vocab_size, progress.get());
          }
          py::dict stats = stats_dict(result.stats);
          py::list file_counts;  // empty: the result is in the arrays
          for (int64_t n : result.file_counts) file_counts.append(n);
          stats["result_file_counts"] = file_counts;
          stats["nnz"] = result.nnz;
          py::array values = params.fixed_point_output ? py::array(to_numpy(std::move(result.fixed)))
                                                       : py::array(to_numpy(std::move(result.values)));
          return py::make_tuple(to_numpy(std::move(result.rows)), to_numpy(std::move(result.cols)),
                                values, stats);
        },
        py::arg("ids"), py::arg("offsets"), py::arg("vocab_size"), py::arg("params"), py::kw_only(),
        py::arg("progress") = py::none(),
        "Co-occurrence counts (rows, cols, values, stats), sorted by (row, col); see cooccur.h.\n"
        "With result_dir, a result written to files there leaves the arrays empty and lists the\n"
        "entries of each thread's files in stats['result_file_counts']; with glove_fd, the result\n"
        "is in that file and stats['nnz'] says how many records it holds. With\n"
        "params.fixed_point_output, values are the int64 fixed-point sums (multiples of\n"
        "2^-stats['fraction_bits']).");

  m.def("cooccurrence_fraction_bits",
        [](int64_t n_ids, int window, bool symmetric, bool distance_weighting) {
          EMBFORGE_CHECK(n_ids >= 0, "n_ids must be >= 0, got ", n_ids);
          EMBFORGE_CHECK(window >= 1, "window must be >= 1, got ", window);
          return cooc::fraction_bits(n_ids, window, symmetric, distance_weighting);
        },
        py::arg("n_ids"), py::arg("window"),
        py::arg("symmetric"), py::arg("distance_weighting"),
        "The fraction bits a count of n_ids ids chooses (CooccurParams.fraction_bits=-1): counts\n"
        "of parts of one corpus pass this value for the whole corpus's n_ids, so that their\n"
        "merge is the whole count (no entry can then overflow, in a part or in the sum).");

  m.def("merge_cooccurrence_partials",
        [](const py::sequence& parts, int workers) {
          // References keep each converted array alive until the merge returns.
          std::vector<py::array> keep;
          std::vector<CooccurPart> views;
          for (size_t p = 0; p < parts.size(); ++p) {
            const py::sequence part = parts[p].cast<py::sequence>();
            EMBFORGE_CHECK(part.size() == 3, "part ", p, " must be (rows, cols, values), got ",
                           part.size(), " items");
            py::array rows = part[0].cast<py::array>(), cols = part[1].cast<py::array>(),
                      values = part[2].cast<py::array>();
            const auto n = static_cast<int64_t>(rows.size());
            const std::string name = "part " + std::to_string(p);
            CooccurPart view;
            view.n = n;
            view.rows = checked_data<int32_t>(rows, (name + " rows").c_str(), {n}, false);
            view.cols = checked_data<int32_t>(cols, (name + " cols").c_str(), {n}, false);
            view.values = checked_data<int64_t>(values, (name + " values").c_str(), {n}, false);
            views.push_back(view);
            keep.push_back(rows);
            keep.push_back(cols);
            keep.push_back(values);
          }
          FixedCooccurrences merged;
          {
            py::gil_scoped_release release;
            merged = merge_cooccurrence_partials(views, workers);
          }
          return py::make_tuple(to_numpy(std::move(merged.rows)), to_numpy(std::move(merged.cols)),
                                to_numpy(std::move(merged.values)));
        },
        py::arg("parts"), py::kw_only(), py::arg("workers") = 1,
        "The exact sum of partial fixed-point counts: parts is a sequence of (rows int32, cols\n"
        "int32, values int64) each sorted by (row, col), all counted with one fraction_bits;\n"
        "returns (rows, cols, values) with every key once, sorted, zero sums left out. An int64\n"
        "overflow is a ValueError. Peak memory: the inputs + 16 bytes per merged entry.");

  m.def("pack_cooccurrences_by_owner",
        [](py::array rows, py::array cols, py::array values, int world_size) {
          const auto n = static_cast<int64_t>(rows.size());
          CooccurPart part;
          part.n = n;
          part.rows = checked_data<int32_t>(rows, "rows", {n}, false);
          part.cols = checked_data<int32_t>(cols, "cols", {n}, false);
          part.values = checked_data<int64_t>(values, "values", {n}, false);
          EMBFORGE_CHECK(world_size >= 1, "world_size must be >= 1, got ", world_size);
          py::array_t<uint8_t> packed(n * static_cast<int64_t>(sizeof(PackedCooccurrence)));
          py::array_t<int64_t> counts(world_size);
          auto* out = reinterpret_cast<PackedCooccurrence*>(packed.mutable_data());
          int64_t* per_rank = counts.mutable_data();
          {
            py::gil_scoped_release release;
            pack_cooccurrences_by_owner(part, world_size, out, per_rank);
          }
          return py::make_tuple(packed, counts);
        },
        py::arg("rows"), py::arg("cols"), py::arg("values"), py::arg("world_size"),
        "(packed uint8, counts int64[world_size]): the entries (rows int32, cols int32, values\n"
        "int64) as 16-byte records (row <i4, col <i4, value <i8) grouped by owner rank (row %\n"
        "world_size), in rank order, each group in the input's order; counts[r]: rank r's records.");

  m.def("cooccurrence_fixed_to_float",
        [](py::array fixed, int fraction_bits) {
          const auto n = static_cast<int64_t>(fixed.size());
          const int64_t* in = checked_data<int64_t>(fixed, "fixed", {n}, false);
          py::array_t<float> out(n);
          float* data = out.mutable_data();
          {
            py::gil_scoped_release release;
            cooccurrence_fixed_to_float(in, n, fraction_bits, data);
          }
          return out;
        },
        py::arg("fixed"), py::arg("fraction_bits"),
        "float32 values of fixed-point sums, rounded exactly as count_cooccurrences rounds them.");

  m.def("write_glove_records",
        [](int fd, int64_t offset, py::array rows, py::array cols, py::array values,
           const std::string& name) {
          const auto n = static_cast<int64_t>(rows.size());
          const int32_t* r = checked_data<int32_t>(rows, "rows", {n}, false);
          const int32_t* c = checked_data<int32_t>(cols, "cols", {n}, false);
          const float* v = checked_data<float>(values, "values", {n}, false);
          EMBFORGE_CHECK(fd >= 0, "fd must be an open file descriptor, got ", fd);
          py::gil_scoped_release release;
          return write_glove_records(fd, offset, r, c, v, n, name);
        },
        py::arg("fd"), py::arg("offset"), py::arg("rows"), py::arg("cols"), py::arg("values"),
        py::kw_only(), py::arg("name") = "the co-occurrence file",
        "Writes glove.c's records (int32 word1, int32 word2, float64 value; ids rows + 1 and\n"
        "cols + 1) for the COO arrays to fd at byte offset, with pwrite; a failed write is an\n"
        "OSError naming `name`. Returns True when the records skipped the page cache (direct\n"
        "I/O: 4 MiB or more at a 4 KiB-aligned offset, on a filesystem that allows it).");

  m.def("make_glove_pairs",
        [](py::array rows, py::array cols, py::array values, int64_t vocab_size, double x_max,
           double alpha, int workers) {
          PairInput in = pair_input(rows, cols, values);
          glove::Pair* pairs = in.out();
          {
            py::gil_scoped_release release;
            make_glove_pairs(in.rows, in.cols, in.values, in.n, vocab_size, x_max, alpha, workers, pairs);
          }
          return in.pairs;
        },
        py::arg("rows"), py::arg("cols"), py::arg("values"), py::arg("vocab_size"),
        py::arg("x_max"), py::arg("alpha"), py::arg("workers") = 1,
        "Training records [n, 4] (row, col, log x as float32 bits, f(x) as float32 bits).");

  m.def("glove_shuffle",
        [](py::array order, uint64_t seed, int epoch, int workers) {
          auto* data = checked_data<uint32_t>(order, "order", {-1}, true);
          const auto n = static_cast<int64_t>(order.size());
          py::gil_scoped_release release;
          glove_shuffle(data, n, seed, epoch, workers);
        },
        py::arg("order"), py::arg("seed"), py::arg("epoch"), py::arg("workers") = 1,
        "Fills `order` with the permutation of range(len(order)) for (seed, epoch).");

  m.def("init_glove",
        [](py::array weights, py::array gradsq, uint64_t seed) {
          const GloveModel model = glove_model(weights, gradsq);
          const auto dim = static_cast<int>(weights.shape(1) - 1);
          py::gil_scoped_release release;
          init_glove(model.weights, model.gradsq, 2 * model.vocab_size, dim, seed);
        },
        py::arg("weights"), py::arg("gradsq"), py::arg("seed"));

  m.def("glove_pair_update",
        [](py::array weights, py::array gradsq, uint32_t row, uint32_t col, float log_x,
           float weight, const GloveParams& params) {
          const GloveModel model = glove_model(weights, gradsq);
          check_glove_params(params, weights);
          EMBFORGE_CHECK(row < model.vocab_size && col < model.vocab_size, "pair (", row, ", ", col,
                         ") is out of range for a vocabulary of ", model.vocab_size, " words");
          return glove_pair_update(params, model, glove::Pair{row, col, log_x, weight});
        },
        py::arg("weights"), py::arg("gradsq"), py::arg("row"), py::arg("col"), py::arg("log_x"),
        py::arg("weight"), py::arg("params"),
        "One pair's update as training does it (for tests against a reference); returns its cost.");

  m.def("train_glove_epoch",
        [](py::array pairs, py::array order, py::array weights, py::array gradsq,
           const GloveParams& params, std::shared_ptr<Progress> progress) {
          const GloveModel model = glove_model(weights, gradsq);
          check_glove_params(params, weights);
          const glove::Pair* records = pair_data(pairs);
          const auto n = static_cast<int64_t>(pairs.shape(0));
          const auto* visit = checked_data<uint32_t>(order, "order", {-1}, false);
          const auto m = static_cast<int64_t>(order.size());
          EMBFORGE_CHECK(m <= n, "order has ", m, " entries, more than the ", n, " pairs");
          GloveEpochStats stats;
          {
            py::gil_scoped_release release;
            // The kernel indexes with these without checks: validate (a few ms).
            if (m == n) {  // a whole epoch: every pair, in memory order
              for (int64_t i = 0; i < n; ++i) {
                EMBFORGE_CHECK(visit[i] < n, "order[", i, "] = ", visit[i], " is out of range");
                EMBFORGE_CHECK(records[i].row < model.vocab_size && records[i].col < model.vocab_size,
                               "pair ", i, " has ids out of range");
              }
            } else {       // a slice: the pairs it visits
              for (int64_t i = 0; i < m; ++i) {
                EMBFORGE_CHECK(visit[i] < n, "order[", i, "] = ", visit[i], " is out of range");
                const glove::Pair& pair = records[visit[i]];
                EMBFORGE_CHECK(pair.row < model.vocab_size && pair.col < model.vocab_size, "pair ",
                               visit[i], " has ids out of range");
              }
            }
            stats = train_glove_epoch(params, records, visit, m, model, progress.get());
          }
          return epoch_dict(stats);
        },
        py::arg("pairs"), py::arg("order"), py::arg("weights"), py::arg("gradsq"), py::arg("params"),
        py::kw_only(), py::arg("progress") = py::none(),
        "One pass over pairs[order] with params.workers threads (params.seed and epoch are not\n"
        "read: the order is given); returns cost, pairs, skipped, stopped. `order` holds at most\n"
        "len(pairs) indices into pairs: a permutation (glove_shuffle) for a whole epoch, or a\n"
        "slice of one to train an epoch in parts.");
}

}  // namespace embforge::bind
