#include <memory>
#include <thread>

#include "bindings.h"
#include "embforge/progress.h"
#include "embforge/simd.h"

namespace embforge::bind {

void bind_common(py::module_& m) {
  m.def("simd_level", &simd_level, "The SIMD code path the kernels use on this CPU.");
  m.def("hardware_threads", [] { return std::thread::hardware_concurrency(); });

  py::class_<Progress, std::shared_ptr<Progress>>(m, "Progress",
      "Counters a running native call publishes; safe to read from any thread.")
      .def(py::init<>())
      .def_property_readonly("work_done", [](const Progress& p) { return p.work_done.load(); })
      .def_property_readonly("work_total", [](const Progress& p) { return p.work_total.load(); })
      .def_property_readonly("loss_sum", [](const Progress& p) { return p.loss_sum.load(); })
      .def_property_readonly("loss_count", [](const Progress& p) { return p.loss_count.load(); })
      .def_property_readonly("learning_rate",
                             [](const Progress& p) { return p.learning_rate.load(); })
      .def_property_readonly("stop_requested", &Progress::stop_requested)
      .def("request_stop", [](Progress& p) { p.stop = true; },
           "Ask the running call to end at its next safe point.")
      .def("clear_stop", [](Progress& p) { p.stop = false; })
      // For callers that count work themselves (the CUDA launch loop, which
      // publishes each finished launch to the same bar the CPU path feeds).
      .def("reset", &Progress::reset, py::arg("total"),
           "Zeroes the counters of a new call expecting `total` units of work.")
      .def("add",
           [](Progress& p, int64_t work, double loss, int64_t loss_terms, double learning_rate) {
             p.work_done += work;
             p.loss_sum.fetch_add(loss);
             p.loss_count += loss_terms;
             p.learning_rate = learning_rate;
           },
           py::arg("work"), py::arg("loss"), py::arg("loss_terms"), py::arg("learning_rate"),
           "Adds finished work and its loss; sets the current learning rate.");
}

}  // namespace embforge::bind
