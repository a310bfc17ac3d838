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
 * v 10**-k and the two bounds come from one 126-bit overestimate g of 10**-k (g = floor(beta) + 1, see the
 * table script): the paper multiplies g by 4c * 2**h, 4c - 2 (or 4c - 1) and 4c + 2 and rounds each product
 * to odd at 2**-127 (the low bit says "inexact"), dropping the product bits below 2**64, which hold all of
 * the error of g. The paper proves that the odd bit then tells exact from inexact faithfully, so that the
 * comparisons with the candidates (multiples of four) are exact; exactness matters when a bound is itself a
 * short decimal (1e23 is exactly halfway between two doubles). Here the one product g * (4c << h) is made
 * (two 64x64 multiplications), the bounds' products by adding and subtracting g << (h + 1) (g << h at the
 * bottom of a binade) exactly, and the round-to-odd comparisons are done on the 128-bit products directly:
 * the same truth values as the paper's, bit for bit, for a third of the multiplications.
 *
 * Differences from Java: no two-digit minimum (Java's "s >= 100" test and its x10 scaling of the smallest
 * subnormals exist for that rule only; repr prints 5e-324), and the trailing zeros are cut.
 *
 * float32 (schubfach_digits32, Java's FloatToDecimal): the same steps with c < 2**24, a 63-bit g
 * (SCHUBFACH_G32) and 64x64 -> 128-bit products rounded to odd at 2**-95 (the bits below 2**64 dropped again);
 * every result fits 32 bits. Checked against Ryu's float32 digits on all 2**31 - 2**23 positive finite floats. */
#ifndef DATASON_SCHUBFACH_H
#define DATASON_SCHUBFACH_H

#include <stdint.h>
#include <string.h>

#include "_schubfach_tables.h"

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
    /* k: R scaled by 10**-k is at least one unit wide. The shifts are arithmetic on negative numbers (gcc,
     * clang and MSVC all do so); the constants are checked by the table script for every q and k. */
    int32_t k, irregular = fraction == 0 && biased > 1;
    if (!irregular) {
        k = (q * 315652) >> 20; /* floor(log10(2**q)) */
    } else { /* c = 2**52: the neighbour below is half as far, R = [v - 2**q / 4, v + 2**q / 2] */
        k = (q * 315653 - 131011) >> 20; /* floor(log10(3/4 2**q)): still at least one unit wide */
    }
    const uint64_t *g = SCHUBFACH_G[k - SCHUBFACH_K_MIN];
    int h = q + ((-k * 1741647) >> 19) + 2; /* + floor(log2(10**-k)): 2..5, so cp = 4c << h < 2**60 */
    /* floor(g * cp / 2**64) exactly (ph; pl the low word of g * cp), and the bounds from it: g * (4c + 2) << h
     * adds g << (h + 1), g * (4c - 2) << h takes it off, g * (4c - 1) << h (bottom of a binade) g << h. The
     * same numbers as the paper's three products, for two multiplications. */
    uint64_t g0 = g[0], g1 = g[1], cp = c << (h + 2);
    __uint128_t x = (__uint128_t)g0 * cp;
    __uint128_t ph = (__uint128_t)g1 * cp + (uint64_t)(x >> 64);
    uint64_t pl = (uint64_t)x;
    int sr = h + 1; /* 3..6 */
    uint64_t rl = g0 << sr; /* g << sr in three words: rl, and rh (the top 70 bits) */
    __uint128_t rh = (__uint128_t)(g1 >> (64 - sr)) << 64 | (g1 << sr | (g0 >> 58) >> (6 - sr));
    uint64_t ll = rl;
    __uint128_t lh = rh;
    if (irregular) { /* half of it */
        ll = rl >> 1 | (uint64_t)rh << 63;
        lh = rh >> 1;
    }
    uint64_t out = c & 1; /* an odd c leaves the bounds out of R */
    /* With V = ph and L, R the bounds' products likewise (2**63 units = 1 unit of the paper's vb = rop(V), four
     * times the scaled value), the round-to-odd comparisons of the paper read, for a candidate n:
     *   rop(L) + out <= 4n  <=>  L + out <= n << 65      4n + out <= rop(R)  <=>  n << 65 <= R - out
     * (4n is even: the sticky bit only matters against 4n exactly, as the strictness `out` says). */
    __uint128_t lb = ph - lh - (pl < ll) + out, rb = ph + rh + (uint64_t)(pl + rl < pl) - out;
    uint64_t vhi = (uint64_t)(ph >> 64), vlo = (uint64_t)ph;
    uint64_t s = vhi >> 1; /* floor(v 10**-k) */
    /* Both outcomes are computed and one is picked without branching: which one wins is a coin toss for
     * arbitrary doubles, and a mispredicted branch costs as much as the arithmetic. */
    uint64_t s10 = s / 10; /* the multiples of ten around v: 10 s10 and 10 s10 + 10 */
    uint64_t u10 = lb <= (__uint128_t)(s10 * 20) << 64, w10 = (__uint128_t)(s10 * 20 + 20) << 64 <= rb;
    uint64_t u = lb <= (__uint128_t)(s << 1) << 64, w = (__uint128_t)((s << 1) + 2) << 64 <= rb;
    /* v is nearer s + 1 than s (past the half: V > (2s + 1) << 64), or a tie and s odd */
    uint64_t up = vhi & 1 & ((vlo != 0) | s);
    uint64_t shorter = u10 ^ w10, mask = 0 - shorter;
    /* s or s + 1, whichever is in R; both (u = w = 1): the nearer. One of them always is. */
    uint64_t d = s + (w & ((u ^ 1) | up));
    d = (d & ~mask) | ((s10 + w10) & mask);
    *exp10 = k + (int32_t)shorter;
    return schubfach_strip(d, exp10);
}

static inline uint32_t schubfach_rotr32(uint32_t x, int r) { return x >> r | x << (32 - r); }

/* schubfach_strip for n < 10**9 (at most 8 trailing zeros: one test, then 4, 2, 1 more), in 32 bits. */
static inline uint32_t schubfach_strip32(uint32_t n, int32_t *exp10) {
    uint32_t r = schubfach_rotr32(n * 0xcccccccdU, 1);
    if (r > 429496729U) return n;
    int32_t e = *exp10 + 1, b;
    n = r;
    r = schubfach_rotr32(n * 0x3afb7e91U, 4);
    b = r <= 429496U;
    n = b ? r : n;
    e += b << 2;
    r = schubfach_rotr32(n * 0xc28f5c29U, 2);
    b = r <= 42949672U;
    n = b ? r : n;
    e += b << 1;
    r = schubfach_rotr32(n * 0xcccccccdU, 1);
    b = r <= 429496729U;
    n = b ? r : n;
    *exp10 = e + b;
    return n;
}

/* The shortest decimal digits that read back to `value` as a float32 (a positive, finite, nonzero float), the
 * closest of them to the exact value (ties to even digit): d without trailing zeros, value ~= d * 10**(*exp10).
 * The same digits as Ryu's f2s (and numpy's repr of a float32). */
static inline uint32_t schubfach_digits32(float value, int32_t *exp10) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    uint32_t fraction = bits & ((1U << 23) - 1);
    int32_t biased = (int32_t)(bits >> 23 & 0xFF);
    uint32_t c;
    int32_t q;
    if (biased != 0) {
        c = fraction | 1U << 23;
        q = biased - 150;
        if (q <= 0 && q >= -23) { /* an integer below 2**24 is its own shortest form (zeros cut) */
            uint32_t f = c >> -q;
            if (f << -q == c) {
                *exp10 = 0;
                return schubfach_strip32(f, exp10);
            }
        }
    } else {
        c = fraction;
        q = -149;
    }
    /* k and h as for doubles (the script checks the constants over a range holding float32's) */
    int32_t k, irregular = fraction == 0 && biased > 1;
    if (!irregular) {
        k = (q * 315652) >> 20;
    } else {
        k = (q * 315653 - 131011) >> 20;
    }
    uint64_t g = SCHUBFACH_G32[k - SCHUBFACH_K32_MIN];
    int h = q + ((-k * 1741647) >> 19) + 33; /* 33..36: cp = 4c << h < 2**62 */
    /* The paper's vb, vbl, vbr are rop(g * cp / 2**95) and likewise for (4c -+ 2) << h (4c - 1 at the bottom
     * of a binade), the bits below 2**64 dropped. As for doubles, one product g * cp and the exact sums
     * g * cp -+ g << (h + 1) (g << h) give the three; V, L, R are their bits from 2**64 up (< 2**62), in which
     * one unit of vb is 2**31 and a candidate 4n is n << 33. */
    __uint128_t p = (__uint128_t)g * ((uint64_t)c << (h + 2));
    uint64_t v = (uint64_t)(p >> 64), pl = (uint64_t)p;
    int sr = h + 1, sl = sr - irregular; /* 33..37: g << sr and g << sl in two words each */
    uint64_t rh = g >> (64 - sr), rl = g << sr, lh = g >> (64 - sl), ll = g << sl;
    uint64_t out = c & 1; /* an odd c leaves the bounds out of R */
    /* rop(L) + out <= 4n  <=>  L + out <= n << 33      4n + out <= rop(R)  <=>  n << 33 <= R - out */
    uint64_t lb = v - lh - (pl < ll) + out, rb = v + rh + (pl + rl < pl) - out;
    uint32_t s = (uint32_t)(v >> 33); /* floor(v 10**-k) < 10**9 */
    uint32_t s10 = s / 10;            /* the multiples of ten around v: 10 s10 and 10 s10 + 10 */
    uint32_t u10 = lb <= (uint64_t)(s10 * 10) << 33, w10 = (uint64_t)(s10 * 10 + 10) << 33 <= rb;
    uint32_t u = lb <= (uint64_t)s << 33, w = (uint64_t)(s + 1) << 33 <= rb;
    /* v is nearer s + 1 than s (V > (2s + 1) << 32), or a tie and s odd */
    uint32_t up = (uint32_t)(v >> 32) & 1 & (((uint32_t)v != 0) | s);
    uint32_t shorter = u10 ^ w10, mask = 0 - shorter;
    uint32_t d = s + (w & ((u ^ 1) | up)); /* s or s + 1, whichever is in R; both: the nearer */
    d = (d & ~mask) | ((s10 + w10) & mask);
    *exp10 = k + (int32_t)shorter;
    return schubfach_strip32(d, exp10);
}

#endif /* DATASON_SCHUBFACH_H */
