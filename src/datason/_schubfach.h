/* The shortest decimal digits of a double, by Schubfach (Raffaello Giulietti, "The Schubfach way to render
 * doubles", 2020; the method behind Java's Double.toString since JDK 19). Same contract as Ryu's: the digits
 * repr() prints. Table: _schubfach_tables.h, made by tools/schubfach_tables.py (which also checks the
 * logarithm approximations below).
 *
 * The idea. A double is v = c * 2**q (c < 2**53); round-to-nearest-even reads back to v every real in its
 * rounding interval R = [v - 2**q / 2, v + 2**q / 2] (a quarter ulp below at the bottom of a binade: the
 * neighbour below is closer), bounds included when c is even. Scaled by 10**-k, k = floor(log10(2**q)), R
 * is 1 to 10 units wide, so it holds at most one multiple of ten and at least one integer, and:
 * - if a multiple of ten lies in R, it is the one decimal of the shortest length (strip its zeros);
 * - otherwise the answer has the length of s = floor(v 10**-k): s or s + 1, whichever is in R, or, when
 *   both are, the closer to v (ties to even). Such a result has no trailing zero (a zero would have been
 *   the multiple of ten above).
 * v 10**-k and the two bounds come from one 126-bit overestimate g of 10**-k: g * 4c * 2**h, rounded to odd
 * (the low bit says "inexact"). The paper proves that with g = floor(beta) + 1 the error stays in the product
 * bits dropped here, so the odd/even bit tells exact from inexact faithfully and the comparisons with the
 * candidates (multiples of four) are exact; exactness matters when a bound is itself a short decimal (1e23).
 *
 * Differences from Java: no two-digit minimum (Java's "s >= 100" test and its x10 scaling of the smallest
 * subnormals exist for that rule only; repr prints 5e-324), and the trailing zeros are cut. */
#ifndef DATASON_SCHUBFACH_H
#define DATASON_SCHUBFACH_H

#include <stdint.h>
#include <string.h>

#include "_schubfach_tables.h"

/* round_to_odd(p / 2**63) for p = floor(g * cp / 2**64), g the 126-bit table entry: the integer part, its
 * lowest bit set when bits below remain. The bits of g * cp below 2**64 are dropped: they hold the error of
 * g (less than cp < 2**60), see above. */
static inline uint64_t schubfach_rop(__uint128_t p) { return (uint64_t)(p >> 63) | (((uint64_t)p << 1) != 0); }

/* Granlund-Montgomery: n is a multiple of 10**j iff n * (5**-j mod 2**64), rotated right by j (the j factors
 * of two, now in the top bits if any is missing), is at most (2**64 - 1) / 10**j; then it is n / 10**j. */
static inline uint64_t schubfach_rotr(uint64_t x, int r) { return x >> r | x << (64 - r); }

/* n > 0, at most 16 trailing zeros: n without them, *exp10 raised by their count. Most numbers have none:
 * one test; then 8, 4, 2, 1 more (1 + 15 covers 16). */
static inline uint64_t schubfach_strip(uint64_t n, int32_t *exp10) {
    uint64_t r = schubfach_rotr(n * 0xcccccccccccccccdULL, 1);
    if (r > 1844674407370955161ULL) return n;
    int32_t e = *exp10 + 1, b; /* the counts vary from one number to the next: selects, not branches */
    n = r;
    r = schubfach_rotr(n * 0xc767074b22e90e21ULL, 8);
    b = r <= 184467440737ULL;
    n = b ? r : n;
    e += b << 3;
    r = schubfach_rotr(n * 0xd288ce703afb7e91ULL, 4);
    b = r <= 1844674407370955ULL;
    n = b ? r : n;
    e += b << 2;
    r = schubfach_rotr(n * 0x8f5c28f5c28f5c29ULL, 2);
    b = r <= 184467440737095516ULL;
    n = b ? r : n;
    e += b << 1;
    r = schubfach_rotr(n * 0xcccccccccccccccdULL, 1);
    b = r <= 1844674407370955161ULL;
    n = b ? r : n;
    *exp10 = e + b;
    return n;
}

/* The shortest decimal digits that read back to `value` (a positive, finite, nonzero double), the closest of
 * them to the exact value (ties to even digit): returns them as an integer d without trailing zeros and sets
 * *exp10 so that value ~= d * 10**(*exp10). */
static inline uint64_t schubfach_digits(double value, int32_t *exp10) {
    uint64_t bits;
    memcpy(&bits, &value, 8);
    uint64_t fraction = bits & ((1ULL << 52) - 1);
    int32_t biased = (int32_t)(bits >> 52 & 0x7FF);
    uint64_t c;
    int32_t q;
    if (biased != 0) {
        c = fraction | 1ULL << 52;
        q = biased - 1075;
        if (q <= 0 && q >= -52) { /* an integer below 2**53 is its own shortest form (zeros cut) */
            uint64_t f = c >> -q;
            if (f << -q == c) {
                *exp10 = 0;
                return schubfach_strip(f, exp10);
            }
        }
    } else {
        c = fraction;
        q = -1074;
    }
    /* k: R scaled by 10**-k is at least one unit wide. The
     * shifts are arithmetic on negative numbers (gcc, clang and MSVC all do so); constants checked by the
     * table script for every q and k. */
    int32_t k, irregular = fraction == 0 && biased > 1;
    if (!irregular) {
        k = (q * 315652) >> 20; /* floor(log10(2**q)) */
    } else { /* c = 2**52: the neighbour below is half as far, R = [v - 2**q / 4, v + 2**q / 2] */
        k = (q * 315653 - 131011) >> 20; /* floor(log10(3/4 2**q)): still at least one unit wide */
    }
    const uint64_t *g = SCHUBFACH_G[k - SCHUBFACH_K_MIN];
    int h = q + ((-k * 1741647) >> 19) + 2; /* + floor(log2(10**-k)): 2..5, so cb << h < 2**60 */
    /* g * (cb << h) exactly (190 bits: ph, pl), and the bounds from it: g * (cbr << h) adds g << (h + 1),
     * g * (cbl << h) takes off g << (h + 1) or, at the bottom of a binade, g << h. The same numbers as three
     * products, for two multiplications. */
    uint64_t g0 = g[0], g1 = g[1], cp = c << (h + 2);
    __uint128_t x = (__uint128_t)g0 * cp;
    __uint128_t ph = (__uint128_t)g1 * cp + (uint64_t)(x >> 64);
    uint64_t pl = (uint64_t)x;
    int sr = h + 1, sl = h + 1 - irregular; /* 2..6 */
    uint64_t rl = g0 << sr, ll = g0 << sl;
    __uint128_t rh = (__uint128_t)g1 << sr | g0 >> (64 - sr), lh = (__uint128_t)g1 << sl | g0 >> (64 - sl);
    uint64_t vb = schubfach_rop(ph);
    uint64_t vbr = schubfach_rop(ph + rh + (pl + rl < pl));
    uint64_t vbl = schubfach_rop(ph - lh - (pl < ll));
    uint64_t out = c & 1; /* an odd c leaves the bounds out of R */
    uint64_t s = vb >> 2;
    /* Both outcomes are computed and one is picked without branching: which one wins is a coin toss for
     * arbitrary doubles, and a mispredicted branch costs as much as the arithmetic. */
    uint64_t s10 = s / 10, four10 = s10 * 40; /* the multiples of ten around v: 10 s10 and 10 s10 + 10 */
    uint64_t u10 = vbl + out <= four10, w10 = four10 + 40 + out <= vbr;
    uint64_t u = vbl + out <= s << 2, w = (s << 2) + 4 + out <= vbr;
    uint64_t up = vb + (s & 1) > (s << 2) + 2; /* v is nearer s + 1 than s, or a tie and s odd */
    uint64_t shorter = u10 ^ w10, mask = 0 - shorter;
    /* s or s + 1, whichever is in R; both (u = w = 1): the nearer. One of them always is. */
    uint64_t d = s + (w & ((u ^ 1) | up));
    d = (d & ~mask) | ((s10 + w10) & mask);
    *exp10 = k + (int32_t)shorter;
    return schubfach_strip(d, exp10);
}

#endif /* DATASON_SCHUBFACH_H */
