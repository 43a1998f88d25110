#ifndef CJemalloc_SHIM_H
#define CJemalloc_SHIM_H
// Debian's jemalloc exports the standard malloc/free names, so linking it into an executable replaces the
// C library's allocator for the whole process. Only mallctl is called directly (to report the version).
#include <jemalloc/jemalloc.h>

#endif
