#ifndef ALLOCATION_COUNTER_H
#define ALLOCATION_COUNTER_H

/// Counts heap allocations made by the whole process (Linux/glibc: the executable's malloc family
/// interposes libc's and forwards to __libc_*). Elsewhere the counter stays at zero and
/// allocation_counter_supported() returns 0.
void allocation_counter_reset(void);
long long allocation_counter_get(void);
int allocation_counter_supported(void);

#endif
