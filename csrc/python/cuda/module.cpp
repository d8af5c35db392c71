// embforge._cuda: the CUDA kernels. Built only when CMake finds nvcc; it
// imports without a GPU (device_count() then reports why none is usable).
#include "bindings.h"

namespace py = pybind11;

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "embforge CUDA kernels";
  // Registers _core's types (the parameter classes, Progress) before any
  // signature here names them.
  py::module_::import("embforge._core");
  embforge::cuda::bind::bind_device(m);
  embforge::cuda::bind::bind_word2vec(m);
  embforge::cuda::bind::bind_cooccur(m);
  embforge::cuda::bind::bind_glove(m);
  embforge::cuda::bind::bind_fasttext(m);
}
