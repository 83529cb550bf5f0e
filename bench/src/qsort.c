/* Quicksort (Hoare partition, median of three, insertion sort below 16) of 4 Mi random
 * 64-bit keys: compares, branches that do not predict, loads and stores. */
#include "bench.h"

static void insertion(uint64_t *a, long n) {
    for (long i = 1; i < n; i++) {
        uint64_t v = a[i];
        long j = i - 1;
        while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; }
        a[j + 1] = v;
    }
}

static void quicksort(uint64_t *a, long n) {
    while (n > 16) {
        uint64_t x = a[0], y = a[n / 2], z = a[n - 1];
        uint64_t p = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        long i = -1, j = n;
        for (;;) {
            do i++; while (a[i] < p);
            do j--; while (a[j] > p);
            if (i >= j) break;
            uint64_t t = a[i]; a[i] = a[j]; a[j] = t;
        }
        /* Recurse into the smaller side, loop on the larger. */
        if (j + 1 < n - j - 1) { quicksort(a, j + 1); a += j + 1; n -= j + 1; }
        else { quicksort(a + j + 1, n - j - 1); n = j + 1; }
    }
    insertion(a, n);
}

int main(int argc, char **argv) {
    long n = (long)bench_n(bench_scale(argc, argv), 4 << 20);
    uint64_t *a = malloc(n * sizeof *a);
    for (long i = 0; i < n; i++) a[i] = bench_rand();
    quicksort(a, n);
    uint64_t h = 0;
    for (long i = 0; i < n; i++) {
        if (i && a[i - 1] > a[i]) { printf("qsort: not sorted at %ld\n", i); return 1; }
        h = (h ^ a[i]) * 0x100000001b3ull;
    }
    printf("qsort %ld keys %016llx\n", n, (unsigned long long)h);
    return 0;
}
