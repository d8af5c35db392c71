// Device queries, and the bridge to _core's Progress counters that lets the
// Python launch loop publish GPU progress to the same bar the CPU path uses.
#include <memory>
#include <string>

#include "bindings.h"
#include "embforge/check.h"
#include "embforge/cuda_device.h"
#include "embforge/progress.h"

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

  // _core registers Progress; pybind11 shares registered types between
  // modules built with the same compiler and pybind11, so this takes the
  // trainer's _core.Progress object itself.
  m.def("progress_add",
        [](std::shared_ptr<Progress> progress, int64_t work, double loss, int64_t loss_terms,
           double learning_rate) {
          EMBFORGE_CHECK(progress != nullptr, "progress must not be None");
          progress->work_done += work;
          progress->loss_sum.fetch_add(loss);
          progress->loss_count += loss_terms;
          progress->learning_rate = learning_rate;
        },
        py::arg("progress"), py::arg("work"), py::arg("loss"), py::arg("loss_terms"),
        py::arg("learning_rate"),
        "Adds a finished launch's work and loss to a _core.Progress.");
  m.def("progress_reset", [](std::shared_ptr<Progress> progress, int64_t total) {
    EMBFORGE_CHECK(progress != nullptr, "progress must not be None");
    progress->reset(total);
  }, py::arg("progress"), py::arg("total"));
}

}  // namespace embforge::cuda::bind
