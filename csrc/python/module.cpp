// embforge._core: the CPU kernels. Each algorithm binds itself in its own file.
#include "bindings.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "embforge native CPU kernels";
  embforge::bind::bind_common(m);
  embforge::bind::bind_corpus(m);
  embforge::bind::bind_word2vec(m);
  embforge::bind::bind_fasttext(m);
  embforge::bind::bind_glove(m);
  embforge::bind::bind_glove_blocks(m);
}
