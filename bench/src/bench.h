/* Shared by the bench programs: a deterministic generator and the checksum line. Each
 * program takes an optional scale (argv[1], default 1.0) that multiplies its work, so
 * `bench/run.sh --quick` can run the same code for a fraction of the time. */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* splitmix64: the same stream on every platform. */
static uint64_t bench_state = 0x243f6a8885a308d3ull;
static inline uint64_t bench_rand(void) {
    uint64_t z = (bench_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline double bench_scale(int argc, char **argv) {
    return argc > 1 ? atof(argv[1]) : 1.0;
}

/* Scales `n` (at least 1). */
static inline uint64_t bench_n(double scale, uint64_t n) {
    uint64_t r = (uint64_t)(scale * (double)n);
    return r ? r : 1;
}

#endif
