// Shared helpers for the pybind11 bindings: they convert and validate Python
// objects, then release the GIL for the whole native call. No algorithm here.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

#include "embforge/check.h"
#include "embforge/corpus_view.h"

namespace embforge::bind {

namespace py = pybind11;

// Hands a vector's storage to numpy without copying; numpy frees it.
template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& values) {
  auto* owned = new std::vector<T>(std::move(values));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(owned->size())}, {sizeof(T)}, owned->data(),
                        owner);
}

// A writable, C-contiguous array of T with the given shape, or a ValueError
// that names the argument and what was wrong.
template <typename T>
T* checked_data(py::array& array, const char* name, std::vector<py::ssize_t> shape,
                bool writable) {
  EMBFORGE_CHECK(py::isinstance<py::array_t<T>>(array) &&
                     array.dtype().equal(py::dtype::of<T>()),
                 name, " must have dtype ", std::string(py::str(py::dtype::of<T>())), ", got ",
                 std::string(py::str(array.dtype())));
  EMBFORGE_CHECK(array.ndim() == static_cast<py::ssize_t>(shape.size()), name, " must be ",
                 shape.size(), "-D, got ", array.ndim(), "-D");
  for (size_t i = 0; i < shape.size(); ++i)
    EMBFORGE_CHECK(shape[i] < 0 || array.shape(i) == shape[i], name, " has shape[", i, "] = ",
                   array.shape(i), ", expected ", shape[i]);
  EMBFORGE_CHECK(array.flags() & py::array::c_style, name, " must be C-contiguous");
  if (writable) {
    EMBFORGE_CHECK(array.writeable(), name, " must be writable");
    return static_cast<T*>(array.mutable_data());
  }
  return static_cast<T*>(const_cast<void*>(array.data()));
}

// The encoded corpus (uint32 ids + int64 sentence offsets) as a CorpusView,
// checked: offsets run from 0 to len(ids) without decreasing and, given a
// vocabulary size, every id indexes a row (kernels index rows without checks).
inline CorpusView corpus_view(py::array& ids, py::array& offsets, int64_t vocab_size = -1) {
  CorpusView corpus;
  corpus.ids = checked_data<uint32_t>(ids, "ids", {-1}, false);
  corpus.n_ids = ids.size();
  corpus.offsets = checked_data<int64_t>(offsets, "offsets", {-1}, false);
  corpus.n_sentences = offsets.size() - 1;
  EMBFORGE_CHECK(corpus.n_sentences >= 0 && corpus.offsets[0] == 0 &&
                     corpus.offsets[corpus.n_sentences] == corpus.n_ids,
                 "offsets must run from 0 to len(ids)=", corpus.n_ids);
  for (int64_t s = 0; s < corpus.n_sentences; ++s)
    EMBFORGE_CHECK(corpus.offsets[s] <= corpus.offsets[s + 1], "offsets must not decrease (at ", s, ")");
  if (vocab_size >= 0) {
    uint32_t largest = 0;
    for (int64_t i = 0; i < corpus.n_ids; ++i) largest = std::max(largest, corpus.ids[i]);
    EMBFORGE_CHECK(corpus.n_ids == 0 || largest < vocab_size, "id ", largest,
                   " in the corpus is out of range for a vocabulary of ", vocab_size, " words");
  }
  return corpus;
}

// A parameter class's constructor and __repr__, both over its bound fields:
// Name(field=value, ...) with keywords only (unset fields keep the C++
// struct's defaults; an unknown name is a TypeError naming it), and a repr in
// the same form, so a parameter object prints as the call that makes it.
// Floats are the structs' float32, written in their shortest form (0.025, not
// 0.02500000037252903).
template <typename T>
void def_fields_init_repr(py::class_<T>& cls, const std::string& name,
                          const std::vector<std::string>& fields) {
  cls.def(py::init([name, fields](const py::kwargs& kwargs) {
            T value;
            // A borrowed Python view of `value`: its field setters convert and
            // check each keyword's type. It dies before `value` is returned.
            py::object view = py::cast(&value, py::return_value_policy::reference);
            for (const auto& item : kwargs) {
              const std::string key = py::str(item.first);
              if (std::find(fields.begin(), fields.end(), key) == fields.end())
                throw py::type_error(name + "() got an unexpected keyword argument '" + key + "'");
              py::setattr(view, item.first, item.second);
            }
            view = py::object();
            return value;
          }),
          "Takes the fields below as keywords, each optional (unset: the C++ default).");
  cls.def("__repr__", [name, fields](const py::object& self) {
    std::string out = name + "(";
    for (size_t i = 0; i < fields.size(); ++i) {
      const py::object value = self.attr(fields[i].c_str());
      std::string text;
      if (py::isinstance<py::float_>(value)) {
        char buffer[32];
        const auto end = std::to_chars(buffer, buffer + sizeof buffer, value.cast<float>()).ptr;
        text.assign(buffer, end);
      } else {
        text = py::repr(value);
      }
      out += (i ? ", " : "") + fields[i] + "=" + text;
    }
    return out + ")";
  });
}

void bind_common(py::module_& m);
void bind_corpus(py::module_& m);
void bind_word2vec(py::module_& m);
void bind_fasttext(py::module_& m);
void bind_glove(py::module_& m);
void bind_glove_blocks(py::module_& m);

}  // namespace embforge::bind
