// Bindings of embforge._cuda, one file per algorithm (like _core's). Device
// arrays arrive as integer addresses (tensor.data_ptr()) and the stream as an
// integer (torch.cuda.current_stream().cuda_stream) inside a _cuda.Launch:
// the module never imports torch or CuPy, and never touches device memory
// from the host. The parameter classes (Word2VecParams, CooccurParams,
// GloveParams) and Progress are _core's: module.cpp imports embforge._core
// first, and pybind11 shares registered types between modules built
// together, so both modules take the same objects.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>

namespace embforge::cuda::bind {

namespace py = pybind11;

template <typename T>
T* device_ptr(uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

void bind_device(py::module_& m);
void bind_word2vec(py::module_& m);
void bind_cooccur(py::module_& m);
void bind_glove(py::module_& m);

}  // namespace embforge::cuda::bind
