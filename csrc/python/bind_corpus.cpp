#include <string_view>

#include <pybind11/stl.h>

#include "bindings.h"
#include "embforge/corpus.h"

namespace embforge::bind {
namespace {

// A finished builder's array as numpy, without a copy: its memory (numpy
// frees it), or a read-only view of its file's mapping (unmapped when numpy
// lets the view go; the pages are the kernel's file cache, not the heap).
template <typename T>
py::array take_array(SpillArray<T>& values) {
  const auto n = static_cast<py::ssize_t>(values.size());
  if (!values.in_file() || n == 0) {
    T* data = values.take_memory().release();
    py::capsule owner(data, [](void* p) { std::free(p); });
    return py::array_t<T>({n}, {static_cast<py::ssize_t>(sizeof(T))}, data, owner);
  }
  auto* mapping = new FileMapping(values.take_mapping());
  py::capsule owner(mapping, [](void* p) { delete static_cast<FileMapping*>(p); });
  py::array_t<T> out({n}, {static_cast<py::ssize_t>(sizeof(T))},
                     static_cast<const T*>(mapping->data()), owner);
  // the mapping is read-only: a write through numpy must raise, not crash
  py::detail::array_proxy(out.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return out;
}

// Words as a list of str: `word(i)` for i < n (a string_view of UTF-8 bytes).
template <typename WordAt>
py::list word_list(size_t n, WordAt word) {
  py::list out(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string_view w = word(i);
    out[i] = py::str(w.data(), w.size());
  }
  return out;
}

}  // namespace

void bind_corpus(py::module_& m) {
  py::class_<CorpusBuilder> builder(m, "CorpusBuilder",
      "Counts words and encodes text into an id stream in one pass (see corpus.h).");
  // The longest token a builder takes by default: readers that cut text for
  // several builders need it too (a cut inside a longer run of bytes would
  // turn text one builder refuses into tokens).
  builder.attr("MAX_TOKEN_BYTES") = CorpusBuilderParams{}.max_token_bytes;
  builder
      .def(py::init([](int64_t max_sentence_length, int64_t max_token_bytes,
                       const std::string& stream_path, int64_t memory_limit,
                       const std::string& spill_dir, int64_t vocab_memory_limit,
                       bool count_only) {
             EMBFORGE_CHECK(vocab_memory_limit >= 0,
                            "vocab_memory_limit must be >= 0 (0: no limit), got ",
                            vocab_memory_limit);
             CorpusBuilderParams params;
             params.max_sentence_length = max_sentence_length;
             params.max_token_bytes = max_token_bytes;
             params.stream_path = stream_path;
             params.memory_limit = memory_limit;
             params.spill_dir = spill_dir;
             params.vocab_memory_limit = vocab_memory_limit;
             params.count_only = count_only;
             return std::make_unique<CorpusBuilder>(params);
           }),
           py::arg("max_sentence_length") = 10000, py::arg("max_token_bytes") = CorpusBuilderParams{}.max_token_bytes,
           py::arg("stream_path") = "", py::arg("memory_limit") = 0, py::arg("spill_dir") = "",
           py::arg("vocab_memory_limit") = 0, py::arg("count_only") = false)
      .def("set_vocabulary", &CorpusBuilder::set_vocabulary, py::arg("words"))
      .def("feed",
           [](CorpusBuilder& self, py::buffer chunk) {
             py::buffer_info info = chunk.request();
             EMBFORGE_CHECK(info.ndim == 1 && info.itemsize == 1,
                            "feed() takes a bytes-like object of bytes");
             const char* data = static_cast<const char*>(info.ptr);
             const size_t size = static_cast<size_t>(info.size);
             py::gil_scoped_release release;
             self.feed(data, size);
           },
           py::arg("chunk"))
      .def("finish",
           [](CorpusBuilder& self, int64_t min_count, int64_t max_vocab_size) {
             VocabLimits limits{min_count, max_vocab_size};
             py::gil_scoped_release release;
             self.finish(limits);
           },
           py::arg("min_count"), py::arg("max_vocab_size") = 0)
      .def("set_offset", &CorpusBuilder::set_offset, py::arg("offset"),
           "Where the next chunk starts in the whole corpus (bytes; for error messages).\n"
           "Only between tokens: between whole lines unless the builder only counts.")
      .def_property_readonly("n_lines", &CorpusBuilder::n_lines,
                             "Lines holding ids so far (what merge() segments count).")
      .def("merge",
           [](CorpusBuilder& self, const std::vector<CorpusBuilder*>& parts, py::array segments,
              int64_t min_count, int64_t max_vocab_size) {
             const int64_t* rows = checked_data<int64_t>(segments, "segments", {-1, 3}, false);
             const auto n = static_cast<int64_t>(segments.shape(0));
             std::vector<CorpusSegment> segs(static_cast<size_t>(n));
             for (int64_t i = 0; i < n; ++i)
               segs[i] = CorpusSegment{rows[3 * i], rows[3 * i + 1], rows[3 * i + 2]};
             VocabLimits limits{min_count, max_vocab_size};
             py::gil_scoped_release release;
             self.merge(parts, segs, limits);
           },
           py::arg("parts"), py::arg("segments"), py::arg("min_count"),
           py::arg("max_vocab_size") = 0,
           "Finishes this fresh builder from parts fed by other threads (corpus.h): segments\n"
           "(int64 rows part, first line, end line) give the parts' lines in corpus order.")
      .def_static(
          "summed_counts",
          [](const std::vector<const CorpusBuilder*>& parts) {
            WordTable sum;
            {
              py::gil_scoped_release release;
              sum = CorpusBuilder::summed_counts(parts);
            }
            py::list words = word_list(
                sum.size(), [&](size_t id) { return sum.word(static_cast<uint32_t>(id)); });
            std::vector<int64_t> counts = sum.counts();
            return py::make_tuple(words, to_numpy(std::move(counts)));
          },
          py::arg("parts"),
          "(words, counts): the words parts fed by other threads counted so far, with their\n"
          "counts summed, in no particular order (corpus.h). Merging such parts into a\n"
          "builder given a vocabulary then reads nothing again.")
      .def("words",
           [](const CorpusBuilder& self) {
             const auto& words = self.words();
             return word_list(words.size(), [&](size_t i) { return words[i]; });
           })
      .def("counts", [](const CorpusBuilder& self) {
             std::vector<int64_t> copy = self.counts();
             return to_numpy(std::move(copy));
           })
      .def("take_ids", [](CorpusBuilder& self) { return take_array(self.ids()); },
           "The id stream, moved out without a copy: in memory, or a read-only view of its\n"
           "file's mapping (a stream_path file is better opened with numpy.memmap).")
      .def("take_offsets", [](CorpusBuilder& self) { return take_array(self.offsets()); },
           "The sentence offsets, moved out as take_ids.")
      .def_property_readonly("spilled", &CorpusBuilder::spilled,
                             "True when the id stream is in a file (stream_path, or past memory_limit).")
      .def_property_readonly("n_ids", &CorpusBuilder::n_ids)
      .def_property_readonly("raw_tokens", &CorpusBuilder::raw_tokens)
      .def_property_readonly("dropped_tokens", &CorpusBuilder::dropped_tokens)
      .def_property_readonly("bytes_read", &CorpusBuilder::bytes_read);
}

}  // namespace embforge::bind
