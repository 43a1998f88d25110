// Multi-lane BLAKE2b-256 for Hypercore leaf hashes: four independent messages of equal length are compressed
// together, one message per 64-bit lane of an AVX2 register (no diagonal shuffles, one vector op per G step for
// four messages). Selected at run time; the build targets baseline x86-64 and non-x86 builds report 0 lanes.
#include "CLeafHash.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <cpuid.h>
#include <immintrin.h>

#define HL_AVX2 __attribute__((target("avx2")))

static const uint64_t IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

static int avx2_usable(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & bit_OSXSAVE) || !(c & bit_AVX)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) return 0;  // the OS saves XMM and YMM state
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & bit_AVX2) != 0;
}

int hl_leafhash_lanes(void) {
    static int lanes = -1;  // every thread that races here computes and stores the same value
    int v = __atomic_load_n(&lanes, __ATOMIC_RELAXED);
    if (v < 0) {
        v = avx2_usable() ? 4 : 0;
        __atomic_store_n(&lanes, v, __ATOMIC_RELAXED);
    }
    return v;
}

#define ROR32(x) _mm256_shuffle_epi32((x), _MM_SHUFFLE(2, 3, 0, 1))
#define ROR24(x) _mm256_shuffle_epi8((x), r24)
#define ROR16(x) _mm256_shuffle_epi8((x), r16)
#define ROR63(x) _mm256_or_si256(_mm256_srli_epi64((x), 63), _mm256_add_epi64((x), (x)))

#define G(a, b, c, d, x, y)                                 \
    do {                                                    \
        a = _mm256_add_epi64(_mm256_add_epi64(a, b), x);    \
        d = ROR32(_mm256_xor_si256(d, a));                  \
        c = _mm256_add_epi64(c, d);                         \
        b = ROR24(_mm256_xor_si256(b, c));                  \
        a = _mm256_add_epi64(_mm256_add_epi64(a, b), y);    \
        d = ROR16(_mm256_xor_si256(d, a));                  \
        c = _mm256_add_epi64(c, d);                         \
        b = ROR63(_mm256_xor_si256(b, c));                  \
    } while (0)

/// One compression of four lanes; m[w] holds word w of each lane's 128-byte block.
HL_AVX2 static void compress4(__m256i h[8], const __m256i m[16], uint64_t t, int last) {
    const __m256i r24 = _mm256_setr_epi8(3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10, 3, 4, 5, 6, 7, 0, 1, 2,
                                         11, 12, 13, 14, 15, 8, 9, 10);
    const __m256i r16 = _mm256_setr_epi8(2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9, 2, 3, 4, 5, 6, 7, 0, 1,
                                         10, 11, 12, 13, 14, 15, 8, 9);
    __m256i v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6], v7 = h[7];
    __m256i v8 = _mm256_set1_epi64x((long long)IV[0]);
    __m256i v9 = _mm256_set1_epi64x((long long)IV[1]);
    __m256i v10 = _mm256_set1_epi64x((long long)IV[2]);
    __m256i v11 = _mm256_set1_epi64x((long long)IV[3]);
    __m256i v12 = _mm256_set1_epi64x((long long)(IV[4] ^ t));
    __m256i v13 = _mm256_set1_epi64x((long long)IV[5]);  // the high counter word stays 0 (len < 2^64)
    __m256i v14 = _mm256_set1_epi64x((long long)(last ? ~IV[6] : IV[6]));
    __m256i v15 = _mm256_set1_epi64x((long long)IV[7]);
    for (int r = 0; r < 12; r++) {
        const uint8_t *s = SIGMA[r];
        G(v0, v4, v8, v12, m[s[0]], m[s[1]]);
        G(v1, v5, v9, v13, m[s[2]], m[s[3]]);
        G(v2, v6, v10, v14, m[s[4]], m[s[5]]);
        G(v3, v7, v11, v15, m[s[6]], m[s[7]]);
        G(v0, v5, v10, v15, m[s[8]], m[s[9]]);
        G(v1, v6, v11, v12, m[s[10]], m[s[11]]);
        G(v2, v7, v8, v13, m[s[12]], m[s[13]]);
        G(v3, v4, v9, v14, m[s[14]], m[s[15]]);
    }
    h[0] = _mm256_xor_si256(h[0], _mm256_xor_si256(v0, v8));
    h[1] = _mm256_xor_si256(h[1], _mm256_xor_si256(v1, v9));
    h[2] = _mm256_xor_si256(h[2], _mm256_xor_si256(v2, v10));
    h[3] = _mm256_xor_si256(h[3], _mm256_xor_si256(v3, v11));
    h[4] = _mm256_xor_si256(h[4], _mm256_xor_si256(v4, v12));
    h[5] = _mm256_xor_si256(h[5], _mm256_xor_si256(v5, v13));
    h[6] = _mm256_xor_si256(h[6], _mm256_xor_si256(v6, v14));
    h[7] = _mm256_xor_si256(h[7], _mm256_xor_si256(v7, v15));
}

static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);  // x86 is little-endian, as BLAKE2b words are
    return v;
}

/// Copies bytes [off, off + 128) of lane stream `0x00 || u64le(len) || data` into `dst`, zero-padded.
static void stage(uint8_t dst[128], const uint8_t *data, size_t len, size_t off) {
    size_t n = 0;
    if (off == 0) {
        dst[0] = 0;
        uint64_t l = (uint64_t)len;
        memcpy(dst + 1, &l, 8);
        n = 9;
    }
    size_t from = off == 0 ? 0 : off - 9;
    size_t want = 128 - n;
    size_t have = from < len ? len - from : 0;
    if (have > want) have = want;
    if (have > 0) memcpy(dst + n, data + from, have);
    n += have;
    if (n < 128) memset(dst + n, 0, 128 - n);
}

HL_AVX2 static void hl_leafhash_multi_avx2(const uint8_t *const *data, size_t len, uint8_t *out) {
    __m256i h[8];
    for (int i = 0; i < 8; i++) h[i] = _mm256_set1_epi64x((long long)IV[i]);
    h[0] = _mm256_xor_si256(h[0], _mm256_set1_epi64x(0x01010020LL));  // digest 32, no key, fanout 1, depth 1
    const size_t total = len + 9;
    const size_t blocks = (total + 127) / 128;
    __m256i m[16];
    uint8_t buf[4][128];
    for (size_t b = 0; b < blocks; b++) {
        const size_t off = b * 128;
        const int last = b + 1 == blocks;
        if (off > 0 && off - 9 + 128 <= len) {
            // A full block inside the data: load straight from the callers' buffers.
            const size_t from = off - 9;
            for (int w = 0; w < 16; w++) {
                m[w] = _mm256_setr_epi64x((long long)load64(data[0] + from + 8 * w),
                                          (long long)load64(data[1] + from + 8 * w),
                                          (long long)load64(data[2] + from + 8 * w),
                                          (long long)load64(data[3] + from + 8 * w));
            }
        } else {
            for (int l = 0; l < 4; l++) stage(buf[l], data[l], len, off);
            for (int w = 0; w < 16; w++) {
                m[w] = _mm256_setr_epi64x((long long)load64(buf[0] + 8 * w), (long long)load64(buf[1] + 8 * w),
                                          (long long)load64(buf[2] + 8 * w), (long long)load64(buf[3] + 8 * w));
            }
        }
        compress4(h, m, last ? (uint64_t)total : (uint64_t)(off + 128), last);
    }
    uint64_t words[4][4];
    for (int i = 0; i < 4; i++) _mm256_storeu_si256((__m256i *)words[i], h[i]);
    for (int l = 0; l < 4; l++) {
        for (int i = 0; i < 4; i++) memcpy(out + 32 * l + 8 * i, &words[i][l], 8);
    }
}

void hl_leafhash_multi(const uint8_t *const *data, size_t len, uint8_t *out) { hl_leafhash_multi_avx2(data, len, out); }

HL_AVX2 static void hl_parenthash_multi_avx2(const uint8_t *const *left, const uint8_t *const *right,
                                             const uint64_t *sizes, uint8_t *out) {
    __m256i h[8];
    for (int i = 0; i < 8; i++) h[i] = _mm256_set1_epi64x((long long)IV[i]);
    h[0] = _mm256_xor_si256(h[0], _mm256_set1_epi64x(0x01010020LL));
    uint8_t buf[4][128];
    for (int l = 0; l < 4; l++) {
        buf[l][0] = 1;
        memcpy(buf[l] + 1, &sizes[l], 8);
        memcpy(buf[l] + 9, left[l], 32);
        memcpy(buf[l] + 41, right[l], 32);
        memset(buf[l] + 73, 0, 128 - 73);
    }
    __m256i m[16];
    for (int w = 0; w < 16; w++) {
        m[w] = _mm256_setr_epi64x((long long)load64(buf[0] + 8 * w), (long long)load64(buf[1] + 8 * w),
                                  (long long)load64(buf[2] + 8 * w), (long long)load64(buf[3] + 8 * w));
    }
    compress4(h, m, 73, 1);
    uint64_t words[4][4];
    for (int i = 0; i < 4; i++) _mm256_storeu_si256((__m256i *)words[i], h[i]);
    for (int l = 0; l < 4; l++) {
        for (int i = 0; i < 4; i++) memcpy(out + 32 * l + 8 * i, &words[i][l], 8);
    }
}

void hl_parenthash_multi(const uint8_t *const *left, const uint8_t *const *right, const uint64_t *sizes,
                         uint8_t *out) {
    hl_parenthash_multi_avx2(left, right, sizes, out);
}

#else

int hl_leafhash_lanes(void) { return 0; }

void hl_leafhash_multi(const uint8_t *const *data, size_t len, uint8_t *out) {
    (void)data;
    (void)len;
    (void)out;
}

void hl_parenthash_multi(const uint8_t *const *left, const uint8_t *const *right, const uint64_t *sizes,
                         uint8_t *out) {
    (void)left;
    (void)right;
    (void)sizes;
    (void)out;
}

#endif
