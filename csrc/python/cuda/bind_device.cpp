// Device queries and the launch struct every launcher takes.
#include <string>

#include "bindings.h"
#include "embforge/check.h"
#include "embforge/cuda_device.h"
#include "embforge/launch.h"

namespace embforge::cuda::bind {

void bind_device(py::module_& m) {
  m.def("device_count", [] {
    std::string error;
    const int count = embforge::cuda::device_count(&error);
    return py::make_tuple(count, error);
  }, "(number of visible CUDA devices, driver error message or '')");
  m.def("device_info", [](int index) {
    const auto info = embforge::cuda::device_info(index);
    py::dict out;
    out["index"] = info.index;
    out["name"] = info.name;
    out["total_memory"] = info.total_memory;
    out["compute_capability"] = py::make_tuple(info.major, info.minor);
    out["multiprocessors"] = info.multiprocessors;
    return out;
  }, py::arg("index") = 0);

  const Launch d;
  py::class_<Launch> launch(m, "Launch",
                            "Where a launcher runs (device index, cudaStream_t as an int) and its "
                            "tuning knobs (0: the kernel's default); see launch.h.");
  launch
      .def(py::init([](int device, uintptr_t stream, int warps_per_block, int span, int batch,
                       unsigned variant) {
             EMBFORGE_CHECK(device >= 0, "device must be >= 0, got ", device);
             EMBFORGE_CHECK(warps_per_block >= 0 && warps_per_block <= 32,
                            "warps_per_block must be in [0, 32], got ", warps_per_block);
             EMBFORGE_CHECK(span >= 0, "span must be >= 0, got ", span);
             EMBFORGE_CHECK(batch >= 0, "batch must be >= 0, got ", batch);
             Launch l;
             l.device = device;
             l.stream = stream;
             l.warps_per_block = warps_per_block;
             l.span = span;
             l.batch = batch;
             l.variant = variant;
             return l;
           }),
           py::kw_only(), py::arg("device") = d.device, py::arg("stream") = d.stream,
           py::arg("warps_per_block") = d.warps_per_block, py::arg("span") = d.span,
           py::arg("batch") = d.batch, py::arg("variant") = d.variant)
      .def_readwrite("device", &Launch::device)
      .def_readwrite("stream", &Launch::stream, "cudaStream_t as an int (0: the default stream)")
      .def_readwrite("warps_per_block", &Launch::warps_per_block)
      .def_readwrite("span", &Launch::span, "stream positions per warp task (word2vec)")
      .def_readwrite("batch", &Launch::batch, "skip-gram context rows staged per pass (word2vec)")
      .def_readwrite("variant", &Launch::variant,
                     "speed variants not yet measured on a GPU, bit flags (0: the default kernels; "
                     "GloVe: 1 staged update, 2 tight pair order; launch.h)")
      .def("__repr__", [](const Launch& l) {
        return "Launch(device=" + std::to_string(l.device) + ", stream=" + std::to_string(l.stream) +
               ", warps_per_block=" + std::to_string(l.warps_per_block) +
               ", span=" + std::to_string(l.span) + ", batch=" + std::to_string(l.batch) +
               ", variant=" + std::to_string(l.variant) + ")";
      });
}

}  // namespace embforge::cuda::bind
