// Out-of-core GloVe training bindings (glove_blocks.h): convert and
// validate, then release the GIL.
#include <cstring>
#include <memory>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.h"
#include "embforge/glove_blocks.h"
#include "glove_bindings.h"

namespace embforge::bind {

void bind_glove_blocks(py::module_& m) {
  py::class_<GloveBlockFile, std::shared_ptr<GloveBlockFile>>(
      m, "GloveBlockFile",
      "GloVe training pairs in blocks of a file (see glove_blocks.h). The caller owns the file\n"
      "descriptor and keeps it open.")
      .def(py::init([](int fd, int64_t pairs, int64_t blocks, int64_t vocab_size, uint64_t seed,
                       int workers) {
             py::gil_scoped_release release;
             return std::make_shared<GloveBlockFile>(fd, pairs, blocks, vocab_size, seed, workers);
           }),
           py::arg("fd"), py::arg("pairs"), py::arg("blocks"), py::arg("vocab_size"), py::arg("seed"),
           py::arg("workers") = 1)
      .def("write",
           [](GloveBlockFile& self, py::array rows, py::array cols, py::array values, double x_max,
              double alpha, int workers) {
             const CooInput in = coo_input(rows, cols, values);
             py::gil_scoped_release release;
             self.write(in.rows, in.cols, in.values, in.n, x_max, alpha, workers);
           },
           py::arg("rows"), py::arg("cols"), py::arg("values"), py::arg("x_max"), py::arg("alpha"),
           py::arg("workers") = 1, "Writes the next entries of the COO matrix into their blocks.")
      .def("train_epoch",
           [](GloveBlockFile& self, py::array weights, py::array gradsq, const GloveParams& params,
              std::shared_ptr<Progress> progress) {
             const GloveModel model = glove_model(weights, gradsq);
             check_glove_params(params, weights);
             GloveEpochStats stats;
             {
               py::gil_scoped_release release;
               stats = self.train_epoch(params, model, progress.get());
             }
             return epoch_dict(stats);
           },
           py::arg("weights"), py::arg("gradsq"), py::arg("params"), py::kw_only(),
           py::arg("progress") = py::none(),
           "One epoch over every block, in the order of params.epoch (the file's own seed keys it).")
      .def("read_block",
           [](const GloveBlockFile& self, int64_t b) {
             std::vector<glove::Pair> records;
             {
               py::gil_scoped_release release;
               records = self.read_block(b);
             }
             py::array_t<uint32_t> out({static_cast<py::ssize_t>(records.size()), py::ssize_t{4}});
             if (!records.empty())
               std::memcpy(out.mutable_data(), records.data(), records.size() * sizeof(glove::Pair));
             return out;
           },
           py::arg("block"), "Block b's records [n, 4] (as make_glove_pairs), in file order.")
      .def("block_order", &GloveBlockFile::block_order, py::arg("epoch"))
      .def("block_size", &GloveBlockFile::block_size, py::arg("block"))
      .def_property_readonly("pairs", &GloveBlockFile::pairs)
      .def_property_readonly("written", &GloveBlockFile::written)
      .def_property_readonly("blocks", &GloveBlockFile::blocks)
      .def_property_readonly("largest_block", &GloveBlockFile::largest_block);
}

}  // namespace embforge::bind
