// Argument checking shared by every kernel and binding.
//
// EMBFORGE_CHECK(cond, parts...) throws std::invalid_argument (ValueError in
// Python) whose message concatenates `parts`, so callers can name the offending
// value: EMBFORGE_CHECK(window > 0, "window must be > 0, got ", window).
// Never assert/abort on user input.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace embforge {

template <typename... Parts>
[[noreturn]] void throw_invalid_argument(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw std::invalid_argument(message.str());
}

}  // namespace embforge

#define EMBFORGE_CHECK(cond, ...)                         \
  do {                                                    \
    if (!(cond)) ::embforge::throw_invalid_argument(__VA_ARGS__); \
  } while (0)
