#include "bindings.h"

namespace embforge::bind {
// Co-occurrence and GloVe bindings (issue 4) are added here.
void bind_glove(py::module_& m) {}
}  // namespace embforge::bind
