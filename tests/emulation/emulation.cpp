// embforge_emulation: the CUDA kernels' shared code (csrc/cuda/*_core.cuh and
// the co-occurrence chunk loop) run on the CPU, for tests on machines without
// a GPU or without nvcc. A test-only extension: the tests compile it
// themselves with the host C++ compiler (tests/emulation/build.py); it is not
// part of the wheel and the library never imports it.
//
// FastText's bindings are in ft_emulation.h.
//
// The same span / window / pair functions the kernels call run on numpy
// arrays, with a group of `lanes` emulated lanes (1 = plain serial code).
// Spans run one after another, so results are deterministic. The kernel
// arguments are built from the contracts (word2vec.h, cooccur.h, glove.h) by
// the same w2v_args / cooccur_args / glove_args the launchers use. Functions
// take plain keyword arguments rather than _core's parameter classes: this
// module may be built with other pybind11 headers than _core, so it cannot
// rely on sharing _core's registered types.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "cooccur_core.cuh"
#include "cooccur_driver.h"
#include "embforge/check.h"
#include "embforge/cooccur.h"
#include "embforge/glove.h"
#include "embforge/progress.h"
#include "embforge/word2vec.h"
#include "ft_emulation.h"
#include "glove_bindings.h"
#include "glove_core.cuh"
#include "lane_emulation.h"
#include "range_emulation.h"
#include "launch_debug.h"
#include "sentences.cuh"
#include "sgns_bindings.h"
#include "w2v_core.cuh"

namespace embforge::cuda::emulation {
namespace {

namespace py = pybind11;

using embforge::bind::checked_data;
using embforge::bind::corpus_view;
using embforge::bind::glove_model;
using embforge::bind::pair_input;
using embforge::bind::PairInput;
using embforge::bind::set_sampling_tables;

Word2VecModel w2v_model(py::array& input, py::array& output) {
  EMBFORGE_CHECK(input.ndim() == 2, "input must be 2-D");
  Word2VecModel model;
  model.vocab_size = input.shape(0);
  model.input = checked_data<float>(input, "input", {model.vocab_size, input.shape(1)}, true);
  model.output = checked_data<float>(output, "output", {model.vocab_size, input.shape(1)}, true);
  return model;
}

// The span queue on the host: a shared counter, and how many times each
// span index was handed out (the test's evidence that each span is trained
// exactly once).
struct HostSpanQueue {
  std::atomic<int64_t>* cursor;
  std::vector<std::atomic<int>>* claims;
  int64_t take() {
    const int64_t i = cursor->fetch_add(1);
    if (i < static_cast<int64_t>(claims->size())) (*claims)[i].fetch_add(1);
    return i;
  }
};

// Records the rows prefetch_row_l2 is given while alive (when `on`).
class PrefetchTrace {
 public:
  explicit PrefetchTrace(bool on) : on_(on) {
    if (on_) {
      active_ = this;
      prefetch_hook = &PrefetchTrace::record;
    }
  }
  ~PrefetchTrace() {
    if (on_) {
      prefetch_hook = nullptr;
      active_ = nullptr;
    }
  }
  std::vector<std::pair<const float*, int64_t>> rows;

 private:
  static void record(const float* row, int64_t floats) {
    std::lock_guard<std::mutex> lock(active_->mutex_);
    active_->rows.emplace_back(row, floats);
  }
  static inline PrefetchTrace* active_ = nullptr;
  bool on_;
  std::mutex mutex_;
};

void bind_word2vec_emulation(py::module_& m) {
  m.def("emulate_word2vec_range",
        [](py::array ids, py::array offsets, py::array input, py::array output,
           py::array keep_threshold, py::array noise_keep, py::array noise_alias,
           int64_t begin, int64_t end, bool skip_gram, int window, int negative,
           bool shrink_windows, float alpha_start, float alpha_end, uint64_t seed, int epoch,
           int lanes, int span, int batch, int pack, bool compute_loss, unsigned variant, int workers,
           bool trace_prefetch) {
          Word2VecModel model = w2v_model(input, output);
          const int64_t vocab = model.vocab_size;
          const CorpusView corpus = corpus_view(ids, offsets, vocab);
          set_sampling_tables(model, keep_threshold, noise_keep, noise_alias);
          end = checked_range_end(corpus, begin, end, window, negative, span);
          auto params = sampling_params<Word2VecParams>(static_cast<int>(input.shape(1)), window, negative,
                                                        skip_gram, shrink_windows, alpha_start, alpha_end,
                                                        seed, epoch);
          params.compute_loss = compute_loss;
          W2vArgs a = w2v_args(params, corpus, model);
          a.batch = batch > 0 ? std::min(batch, 2 * window) : 2 * window;
          a.pipelined = (variant & kPipelinedLoads) != 0;
          const bool queued = (variant & kSpanQueue) != 0;
          EMBFORGE_CHECK(workers >= 1 && workers <= 64, "workers must be in [1, 64], got ", workers);
          EMBFORGE_CHECK(queued || workers == 1, "workers=", workers,
                         " needs the span queue (variant & ", kSpanQueue, ")");
          const int64_t n_spans = (end - begin + span - 1) / span;
          std::atomic<int64_t> cursor{0};
          std::vector<std::atomic<int>> claims(queued ? n_spans : 0);
          HostSpanQueue queue{&cursor, &claims};
          PrefetchTrace trace(trace_prefetch);
          W2vCounters total;
          std::mutex total_mutex;
          {
            py::gil_scoped_release release;
            // Each worker is one warp: its own scratch, spans from the
            // queue (workers race on the model like warps: Hogwild), or
            // every span in order.
            auto worker = [&] {
              std::vector<unsigned char> scratch(static_cast<size_t>(w2v_scratch_bytes(a)) + 16);
              const W2vScratch s = w2v_scratch(scratch.data(), a);
              with_pack(a.dim, pack, [&](auto v) {
                on_lanes(lanes, [&](const auto& g) {
                  W2vCounters c;
                  SpanSource<HostSpanQueue> source{queued ? &queue : nullptr, 0, 1};
                  w2v_spans<decltype(v)::value>(g, a, s, begin, end, span, source, c);
                  if (g.rank() == 0) {
                    std::lock_guard<std::mutex> lock(total_mutex);
                    total.loss += c.loss;
                    total.loss_terms += c.loss_terms;
                    total.words_trained += c.words_trained;
                  }
                });
              });
            };
            std::vector<std::thread> threads;
            for (int w = 1; w < workers; ++w) threads.emplace_back(worker);
            worker();
            for (auto& t : threads) t.join();
          }
          py::dict out = range_result(total, begin, end);
          if (queued) {
            py::array_t<int32_t> taken(n_spans);
            for (int64_t i = 0; i < n_spans; ++i) taken.mutable_data()[i] = claims[i].load();
            out["span_claims"] = taken;
          }
          if (trace_prefetch) {
            // (output row, floats) of every prefetch_row_l2, in call order;
            // a row outside the output matrix is an error.
            py::list rows;
            const auto base = reinterpret_cast<uintptr_t>(model.output);
            for (const auto& [row, floats] : trace.rows) {
              const auto at = reinterpret_cast<uintptr_t>(row);
              const uintptr_t row_bytes = 4 * static_cast<uintptr_t>(params.vector_size);
              EMBFORGE_CHECK(at >= base && (at - base) % row_bytes == 0 && (at - base) / row_bytes < uintptr_t(vocab),
                             "a prefetch outside the output rows");
              rows.append(py::make_tuple((at - base) / row_bytes, floats));
            }
            out["prefetched"] = rows;
          }
          return out;
        },
        py::arg("ids"), py::arg("offsets"), py::arg("input"), py::arg("output"),
        py::arg("keep_threshold"), py::arg("noise_keep"), py::arg("noise_alias"), py::kw_only(),
        py::arg("begin") = 0, py::arg("end") = -1, py::arg("skip_gram"), py::arg("window"),
        py::arg("negative"), py::arg("shrink_windows") = true, py::arg("alpha_start"),
        py::arg("alpha_end"), py::arg("seed"), py::arg("epoch"), py::arg("lanes") = 1,
        py::arg("span") = 256, py::arg("batch") = 0, py::arg("pack") = 0,
        py::arg("compute_loss") = true, py::arg("variant") = 0u, py::arg("workers") = 1,
        py::arg("trace_prefetch") = false,
        "The word2vec kernel's span loop on the CPU, spans in order (test use). variant:\n"
        "Launch::variant bits (kPipelinedLoads, kSpanQueue: `workers` threads, each one warp, take\n"
        "spans from a shared counter; the result has span_claims, the times each span was taken).\n"
        "trace_prefetch: the result has prefetched, the (output row, floats) prefetched in order.");

  m.def("emulate_word2vec_window",
        [](py::array input, py::array output, py::array contexts, py::array targets, float alpha,
           bool skip_gram, int lanes, int batch, int pack) {
          const Word2VecModel model = w2v_model(input, output);
          Word2VecParams params;
          params.vector_size = static_cast<int>(input.shape(1));
          params.skip_gram = skip_gram;
          W2vArgs a = w2v_args(params, CorpusView{}, model);
          const auto* ctx = checked_data<uint32_t>(contexts, "contexts", {-1}, false);
          const auto* tgt = checked_data<uint32_t>(targets, "targets", {-1}, false);
          const int n_ctx = static_cast<int>(contexts.size());
          EMBFORGE_CHECK(n_ctx >= 1 && targets.size() >= 1, "need a context and a target");
          for (int j = 0; j < n_ctx; ++j) EMBFORGE_CHECK(ctx[j] < a.vocab_size, "context out of range");
          for (py::ssize_t k = 0; k < targets.size(); ++k)
            EMBFORGE_CHECK(tgt[k] < a.vocab_size, "target out of range");
          a.window = (n_ctx + 1) / 2;
          a.negative = static_cast<int>(targets.size()) - 1;
          a.skip_gram = skip_gram;
          a.batch = batch > 0 ? std::min(batch, n_ctx) : n_ctx;
          std::vector<unsigned char> scratch(static_cast<size_t>(w2v_scratch_bytes(a)) + 16);
          const W2vScratch s = w2v_scratch(scratch.data(), a);
          std::copy(ctx, ctx + n_ctx, s.contexts);
          std::copy(tgt, tgt + targets.size(), s.targets);
          W2vCounters total;
          {
            py::gil_scoped_release release;
            with_pack(a.dim, pack, [&](auto v) {
              on_lanes(lanes, [&](const auto& g) {
                W2vCounters c;
                if (skip_gram) {
                  w2v_skip_gram_window<decltype(v)::value>(g, a, s, n_ctx, alpha, c);
                } else {
                  w2v_cbow_window<decltype(v)::value>(g, a, s, n_ctx, alpha, c);
                }
                if (g.rank() == 0) total = c;
              });
            });
          }
          return total.loss;
        },
        py::arg("input"), py::arg("output"), py::arg("contexts"), py::arg("targets"),
        py::arg("alpha"), py::arg("skip_gram"), py::kw_only(), py::arg("lanes") = 1,
        py::arg("batch") = 0, py::arg("pack") = 0,
        "One window's update by the kernel's code (test use); returns its loss.");

  m.def("emulate_word2vec_init",
        [](py::array input, uint64_t seed) {
          float* data = checked_data<float>(input, "input", {-1, -1}, true);
          const int64_t rows = input.shape(0);
          const int dim = static_cast<int>(input.shape(1));
          py::gil_scoped_release release;
          for (int64_t r = 0; r < rows; ++r) w2v_init_row(data + r * dim, dim, seed, r);
        },
        py::arg("input"), py::arg("seed"), "The init kernel's rows on the CPU (test use).");
}

// The device ops of cooccur.cu as host loops: the same driver runs on them.
// Key: uint64_t, or uint32_t (kNarrowKeys); Compact: kCompactPairs.
template <class Key, bool Compact>
struct HostCooccurOps {
  CooccurArgs a;
  int64_t pairs = 0;

  int64_t generate(CooccurBuffers& b, int64_t at, int64_t begin, int64_t end) {
    Key* keys = key_buffer<Key>(b, 0) + at;
    uint64_t* values = b.values[0] + at;
    int64_t written = 0;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t s = sentence_of(a.offsets, a.n_sentences, i);
      const int64_t end_s = a.offsets[s + 1];
      if (Compact) {
        const int n = cooc_emit<Key>(a, i, end_s, 1, true, keys + written, values + written);
        EMBFORGE_CHECK(n == cooc_pair_count(a, i, end_s), "cooc_pair_count disagrees with cooc_emit");
        written += n;
        pairs += n;
      } else {
        pairs += cooc_emit<Key>(a, i, end_s, end - begin, false, keys + (i - begin), values + (i - begin));
      }
    }
    return Compact ? written : (end - begin) * a.window;
  }
  // Sorted unique (key, summed value) runs of keys[0][acc, acc + n), empty
  // slots dropped, written back from acc.
  int64_t sort_chunk(CooccurBuffers& b, int64_t acc, int64_t n) {
    Key* keys = key_buffer<Key>(b, 0) + acc;
    uint64_t* values = b.values[0] + acc;
    std::vector<int64_t> index(n);
    std::iota(index.begin(), index.end(), 0);
    std::stable_sort(index.begin(), index.end(), [&](int64_t x, int64_t y) { return keys[x] < keys[y]; });
    std::vector<Key> k;
    std::vector<uint64_t> v;
    const auto empty = static_cast<Key>(cooc_empty_key(a.vocab_size));
    for (int64_t i : index) {
      if (keys[i] == empty) {
        EMBFORGE_CHECK(!Compact, "an empty slot among compacted pairs");
        break;  // sorts last
      }
      if (!k.empty() && k.back() == keys[i]) {
        v.back() += values[i];
      } else {
        k.push_back(keys[i]);
        v.push_back(values[i]);
      }
    }
    std::copy(k.begin(), k.end(), keys);
    std::copy(v.begin(), v.end(), values);
    return static_cast<int64_t>(k.size());
  }
  // The two sorted runs merged into buffer 1 (equal keys adjacent), then
  // summed into buffer 0, as the device does it.
  int64_t merge(CooccurBuffers& b, int64_t acc, int64_t m) {
    Key *k0 = key_buffer<Key>(b, 0), *k1 = key_buffer<Key>(b, 1);
    uint64_t *v0 = b.values[0], *v1 = b.values[1];
    int64_t i = 0, j = acc, n = 0;
    while (i < acc || j < acc + m) {
      const bool left = j == acc + m || (i < acc && k0[i] <= k0[j]);
      const int64_t from = left ? i++ : j++;
      k1[n] = k0[from];
      v1[n++] = v0[from];
    }
    int64_t runs = 0;
    for (int64_t t = 0; t < n; ++t) {
      if (runs > 0 && k0[runs - 1] == k1[t]) {
        v0[runs - 1] += v1[t];
      } else {
        k0[runs] = k1[t];
        v0[runs++] = v1[t];
      }
    }
    return runs;
  }
  void transpose(CooccurBuffers& b, int64_t n) {
    Key* keys = key_buffer<Key>(b, 0);
    for (int64_t k = 0; k < n; ++k) {
      keys[n + k] = cooc_transpose_key<Key>(keys[k], a.vocab_size);
      b.values[0][n + k] = b.values[0][k];
    }
  }
  void finish(CooccurBuffers& b, int64_t n) {
    if constexpr (sizeof(Key) < sizeof(uint64_t)) {
      const Key* narrow = key_buffer<Key>(b, 0);
      for (int64_t k = 0; k < n; ++k) b.keys[1][k] = narrow[k];
      std::swap(b.keys[0], b.keys[1]);
    }
  }
  int64_t pair_count() { return pairs; }
};

void bind_cooccur_emulation(py::module_& m) {
  m.def("emulate_cooccur",
        [](py::array ids, py::array offsets, int64_t vocab_size, int window, bool symmetric,
           bool distance_weighting, int64_t capacity, bool stop, unsigned variant) {
          const CorpusView corpus = corpus_view(ids, offsets, vocab_size);
          EMBFORGE_CHECK(window >= 1 && capacity >= 8 * window,
                         "need window >= 1, capacity >= 8 * window, got ", window, ", ", capacity);
          CooccurParams params;
          params.window = window;
          params.symmetric = symmetric;
          params.distance_weighting = distance_weighting;
          const CooccurArgs a = cooccur_args(params, corpus, vocab_size);
          const bool narrow = (variant & kNarrowKeys) && cooc_narrow_fits(vocab_size);
          const bool compact = (variant & kCompactPairs) != 0;
          // The driver's progress: stop set beforehand takes its stop path.
          Progress progress;
          progress.stop = stop;
          std::vector<uint64_t> storage(4 * static_cast<size_t>(capacity));
          CooccurBuffers b;
          b.capacity = capacity;
          for (int i = 0; i < 2; ++i) {
            b.keys[i] = storage.data() + i * capacity;
            b.values[i] = storage.data() + (2 + i) * capacity;
          }
          CooccurOutcome r;
          {
            py::gil_scoped_release release;
            auto run = [&](auto ops) {
              ops.a = a;
              if (a.n_ids > 0) r = run_cooccur(ops, b, a.n_ids, window, symmetric, &progress);
            };
            if (narrow) {
              if (compact) run(HostCooccurOps<uint32_t, true>{}); else run(HostCooccurOps<uint32_t, false>{});
            } else {
              if (compact) run(HostCooccurOps<uint64_t, true>{}); else run(HostCooccurOps<uint64_t, false>{});
            }
          }
          py::array_t<int32_t> rows(r.nnz), cols(r.nnz);
          py::array_t<float> values(r.nnz);
          for (int64_t k = 0; k < r.nnz; ++k)
            cooc_export(b.keys[0][k], b.values[0][k], vocab_size, a.fraction_bits,
                        rows.mutable_data() + k, cols.mutable_data() + k, values.mutable_data() + k);
          py::dict stats;
          stats["ids_processed"] = progress.work_done.load();
          stats["pair_updates"] = r.pair_updates;
          stats["chunks"] = r.chunks;
          stats["fraction_bits"] = a.fraction_bits;
          stats["stopped"] = r.stopped;
          stats["narrow_keys"] = narrow;
          return py::make_tuple(rows, cols, values, stats);
        },
        py::arg("ids"), py::arg("offsets"), py::arg("vocab_size"), py::kw_only(), py::arg("window"),
        py::arg("symmetric"), py::arg("distance_weighting"), py::arg("capacity"),
        py::arg("stop") = false, py::arg("variant") = 0u,
        "The CUDA co-occurrence chunk loop on the CPU with `capacity` entries per buffer; stop=True\n"
        "asks it to stop before the first chunk (as Progress::stop would). variant: Launch::variant\n"
        "bits (kNarrowKeys, kCompactPairs); stats['narrow_keys'] says whether 32-bit keys were used.");
}

GloveParams glove_host_params(const py::array& weights) {
  GloveParams params;
  params.vector_size = static_cast<int>(weights.shape(1) - 1);
  return params;
}

void bind_glove_emulation(py::module_& m) {
  m.def("emulate_glove_pairs",
        [](py::array rows, py::array cols, py::array values, int64_t vocab_size, double x_max,
           double alpha) {
          PairInput in = pair_input(rows, cols, values);
          glove::Pair* pairs = in.out();
          int64_t invalid = 0;
          for (int64_t i = 0; i < in.n; ++i)
            invalid += !glove_make_pair(in.rows[i], in.cols[i], in.values[i], vocab_size, x_max, alpha,
                                        pairs + i);
          return py::make_tuple(in.pairs, invalid);
        },
        py::arg("rows"), py::arg("cols"), py::arg("values"), py::arg("vocab_size"),
        py::arg("x_max"), py::arg("alpha"), "(pairs, invalid count) as the pairs kernel makes them.");

  m.def("emulate_glove_init",
        [](py::array weights, py::array gradsq, uint64_t seed) {
          const GloveModel model = glove_model(weights, gradsq);
          const int dim = static_cast<int>(weights.shape(1) - 1);
          for (int64_t r = 0; r < 2 * model.vocab_size; ++r)
            glove_init_row(model.weights + r * (dim + 1), model.gradsq + r * (dim + 1), dim, seed, r);
        },
        py::arg("weights"), py::arg("gradsq"), py::arg("seed"));

  m.def("emulate_glove_order",
        [](int64_t n, uint64_t seed, int epoch, unsigned variant) {
          EMBFORGE_CHECK(n >= 0 && n <= int64_t{0xFFFFFFFF}, "n must be in [0, 2^32 - 1]");
          py::array_t<uint32_t> out(n);
          const uint64_t key = glove_order_key(seed, epoch);
          const int half = glove_half_bits(n), bits = glove_domain_bits(n);
          const bool tight = (variant & kTightOrder) != 0;
          for (int64_t t = 0; t < n; ++t) {
            const auto step = static_cast<uint64_t>(t), size = static_cast<uint64_t>(n);
            out.mutable_data()[t] = static_cast<uint32_t>(
                tight ? glove_permute_tight(step, size, key, bits) : glove_permute(step, size, key, half));
          }
          return out;
        },
        py::arg("n"), py::arg("seed"), py::arg("epoch"), py::arg("variant") = 0u,
        "The pair order the GloVe kernel visits for (seed, epoch) (variant: Launch::variant).");

  m.def("glove_order_evaluations",
        [](int64_t n, uint64_t seed, int epoch, unsigned variant) {
          // Feistel evaluations per step, summed over the epoch (cycle walking).
          const uint64_t key = glove_order_key(seed, epoch);
          const auto size = static_cast<uint64_t>(n);
          const int half = glove_half_bits(n), bits = glove_domain_bits(n);
          int64_t total = 0;
          for (int64_t t = 0; t < n; ++t) {
            uint64_t x = static_cast<uint64_t>(t);
            do {
              x = (variant & kTightOrder) ? glove_feistel_bits(x, key, bits) : glove_feistel(x, key, half);
              ++total;
            } while (x >= size);
          }
          return total;
        },
        py::arg("n"), py::arg("seed"), py::arg("epoch"), py::arg("variant") = 0u,
        "Network evaluations the order takes over an epoch (cycle walking's cost).");

  m.def("emulate_glove_range",
        [](py::array pairs, py::object order, py::array weights, py::array gradsq, int64_t begin,
           int64_t end, float learning_rate, float grad_clip, float bias_learning_rate, uint64_t seed,
           int epoch, int lanes, unsigned variant) {
          const GloveModel model = glove_model(weights, gradsq);
          const int64_t n_pairs = pairs.ndim() == 2 ? pairs.shape(0) : 0;
          const auto* records = reinterpret_cast<const glove::Pair*>(
              checked_data<uint32_t>(pairs, "pairs", {n_pairs, 4}, false));
          const uint32_t* visit = nullptr;
          py::array order_array;
          if (!order.is_none()) {
            order_array = order.cast<py::array>();
            visit = checked_data<uint32_t>(order_array, "order", {n_pairs}, false);
            for (int64_t t = 0; t < n_pairs; ++t)
              EMBFORGE_CHECK(visit[t] < n_pairs, "order[", t, "] = ", visit[t], " out of range");
          }
          for (int64_t i = 0; i < n_pairs; ++i)
            EMBFORGE_CHECK(records[i].row < model.vocab_size && records[i].col < model.vocab_size,
                           "pair ", i, " has ids out of range");
          if (end < 0) end = n_pairs;
          EMBFORGE_CHECK(0 <= begin && begin <= end && end <= n_pairs, "bad range [", begin, ", ", end, ")");
          GloveParams params = glove_host_params(weights);
          params.learning_rate = learning_rate;
          params.grad_clip = grad_clip;
          params.bias_learning_rate = bias_learning_rate;
          params.seed = seed;
          params.epoch = epoch;
          GloveArgs a = glove_args(params, records, visit, n_pairs, model);
          a.staged = (variant & kStagedUpdate) != 0;
          a.tight_order = (variant & kTightOrder) != 0;
          GloveCounters total;
          {
            py::gil_scoped_release release;
            on_lanes(lanes, [&](const auto& g) {
              GloveCounters c;
              glove_steps(g, a, begin, end, 0, 1, c);
              if (g.rank() == 0) total = c;
            });
          }
          py::dict out;
          out["cost"] = total.cost;
          out["pairs"] = total.pairs;
          out["skipped"] = total.skipped;
          out["stopped"] = false;
          return out;
        },
        py::arg("pairs"), py::arg("order"), py::arg("weights"), py::arg("gradsq"), py::kw_only(),
        py::arg("begin") = 0, py::arg("end") = -1, py::arg("learning_rate"), py::arg("grad_clip"),
        py::arg("bias_learning_rate") = 1.0f, py::arg("seed"), py::arg("epoch"), py::arg("lanes") = 1,
        py::arg("variant") = 0u,
        "The GloVe kernel's steps on the CPU, in order (test use); variant: Launch::variant bits.");
}

// The per-launch check's host half (launch_debug.h): the variable's parsing
// and the message a failed launch raises, as launch.cuh builds them.
void bind_launch_debug(py::module_& m) {
  m.def("parse_sync_mode",
        [](std::optional<std::string> value) { return parse_sync_mode(value ? value->c_str() : nullptr); },
        py::arg("value"), "EMBFORGE_CUDA_SYNC's value as the launchers read it (None: unset).");
  m.def("sync_mode", [] { return sync_mode(); }, "The mode from this process's environment.");
  m.def("describe_word2vec_failure",
        [](int64_t blocks, int threads, int64_t shared, uintptr_t stream, int64_t begin, int64_t end,
           bool skip_gram, double alpha, uintptr_t input, const std::string& error, bool synchronised) {
          const std::string launch = describe_launch(
              "word2vec_kernel<4>", {blocks, threads, shared, stream}, "begin", begin, "end", end,
              "skip_gram", skip_gram, "alpha", alpha, "input", reinterpret_cast<const void*>(input));
          return launch_failure(launch, error, synchronised);
        },
        py::arg("blocks"), py::arg("threads"), py::arg("shared"), py::arg("stream"), py::arg("begin"),
        py::arg("end"), py::arg("skip_gram"), py::arg("alpha"), py::arg("input"), py::arg("error"),
        py::arg("synchronised"),
        "The message of a failed launch with arguments of each kind a launcher passes.");
}

}  // namespace
}  // namespace embforge::cuda::emulation

PYBIND11_MODULE(embforge_emulation, m) {
  m.doc() = "The CUDA kernels' shared code on the CPU (embforge's tests only)";
  embforge::cuda::emulation::bind_word2vec_emulation(m);
  embforge::cuda::emulation::bind_cooccur_emulation(m);
  embforge::cuda::emulation::bind_glove_emulation(m);
  embforge::cuda::emulation::bind_fasttext_emulation(m);
  embforge::cuda::emulation::bind_launch_debug(m);
}
