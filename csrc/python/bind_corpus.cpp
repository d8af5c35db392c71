#include <pybind11/stl.h>

#include "bindings.h"
#include "embforge/corpus.h"

namespace embforge::bind {

void bind_corpus(py::module_& m) {
  py::class_<CorpusBuilder>(m, "CorpusBuilder",
      "Counts words and encodes text into an id stream in one pass (see corpus.h).")
      .def(py::init([](int64_t max_sentence_length, int64_t max_token_bytes,
                       const std::string& stream_path) {
             CorpusBuilderParams params;
             params.max_sentence_length = max_sentence_length;
             params.max_token_bytes = max_token_bytes;
             params.stream_path = stream_path;
             return std::make_unique<CorpusBuilder>(params);
           }),
           py::arg("max_sentence_length") = 10000, py::arg("max_token_bytes") = 1 << 16,
           py::arg("stream_path") = "")
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
      .def("words",
           [](const CorpusBuilder& self) {
             py::list out(self.words().size());
             for (size_t i = 0; i < self.words().size(); ++i) {
               const auto w = self.words()[i];
               out[i] = py::str(w.data(), w.size());
             }
             return out;
           })
      .def("counts", [](const CorpusBuilder& self) {
             std::vector<int64_t> copy = self.counts();
             return to_numpy(std::move(copy));
           })
      .def("take_ids", [](CorpusBuilder& self) { return to_numpy(std::move(self.ids())); },
           "The in-memory id stream (moved out, no copy).")
      .def("take_offsets", [](CorpusBuilder& self) { return to_numpy(std::move(self.offsets())); })
      .def_property_readonly("n_ids", &CorpusBuilder::n_ids)
      .def_property_readonly("raw_tokens", &CorpusBuilder::raw_tokens)
      .def_property_readonly("dropped_tokens", &CorpusBuilder::dropped_tokens)
      .def_property_readonly("bytes_read", &CorpusBuilder::bytes_read);
}

}  // namespace embforge::bind
