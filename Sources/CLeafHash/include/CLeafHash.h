#ifndef CLEAFHASH_H
#define CLEAFHASH_H

#include <stddef.h>
#include <stdint.h>

/// Number of leaves `hl_leafhash_lanes` hashes at once, or 0 when this CPU has no multi-lane kernel
/// (callers then hash one leaf at a time with libsodium).
int hl_leafhash_lanes(void);

/// Hypercore leaf hashes of `hl_leafhash_lanes()` blocks of the same length `len`:
/// out[32*i ..< 32*i+32] = BLAKE2b-256(0x00 || u64le(len) || data[i][0 ..< len]).
/// Must only be called when `hl_leafhash_lanes()` is nonzero.
void hl_leafhash_multi(const uint8_t *const *data, size_t len, uint8_t *out);

/// Hypercore parent hashes of `hl_leafhash_lanes()` node pairs:
/// out[32*i ..< 32*i+32] = BLAKE2b-256(0x01 || u64le(sizes[i]) || left[i][0..<32] || right[i][0..<32]).
/// Must only be called when `hl_leafhash_lanes()` is nonzero.
void hl_parenthash_multi(const uint8_t *const *left, const uint8_t *const *right, const uint64_t *sizes,
                         uint8_t *out);

#endif
