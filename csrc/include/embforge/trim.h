// Hands memory that the allocator keeps after a large native call back to
// the system.
//
// glibc serves allocations below its (self-raising, up to 32 MiB) mmap
// threshold from per-thread arenas and keeps them after free(): after a
// count, its worker threads' arenas held ~120 MB that nothing reused, on top
// of which training then allocated. malloc_trim releases those pages.
#pragma once

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace embforge {

inline void release_free_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace embforge
