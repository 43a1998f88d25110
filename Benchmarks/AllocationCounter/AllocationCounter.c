#include "AllocationCounter.h"

#include <stdatomic.h>
#include <stddef.h>

static _Atomic long long allocation_count = 0;

void allocation_counter_reset(void) { atomic_store_explicit(&allocation_count, 0, memory_order_relaxed); }

long long allocation_counter_get(void) { return atomic_load_explicit(&allocation_count, memory_order_relaxed); }

#if defined(__linux__) && defined(__GLIBC__)

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static inline void count_one(void) { atomic_fetch_add_explicit(&allocation_count, 1, memory_order_relaxed); }

int allocation_counter_supported(void) { return 1; }

void *malloc(size_t size) {
    count_one();
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
    count_one();
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
    count_one();
    return __libc_realloc(p, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    count_one();
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) return 12; /* ENOMEM */
    *out = p;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size) {
    count_one();
    return __libc_memalign(alignment, size);
}

void *memalign(size_t alignment, size_t size) {
    count_one();
    return __libc_memalign(alignment, size);
}

#else

int allocation_counter_supported(void) { return 0; }

#endif
