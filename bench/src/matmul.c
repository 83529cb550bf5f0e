/* Dense double-precision matrix multiply C = A * B (n = 320, or 128 for scales below 1/2),
 * i-k-j loop order, repeated: streaming loads, multiplies and adds. */
#include "bench.h"

int main(int argc, char **argv) {
    double scale = bench_scale(argc, argv);
    const int n = scale < 0.5 ? 128 : 320;
    uint64_t reps = bench_n(scale, 2);
    double *a = malloc(sizeof(double) * n * n), *b = malloc(sizeof(double) * n * n);
    double *c = malloc(sizeof(double) * n * n);
    for (int i = 0; i < n * n; i++) {
        a[i] = (double)(bench_rand() % 2001) / 1000.0 - 1.0;
        b[i] = (double)(bench_rand() % 2001) / 1000.0 - 1.0;
    }
    double sum = 0;
    for (uint64_t r = 0; r < reps; r++) {
        for (int i = 0; i < n * n; i++) c[i] = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++) {
                double aik = a[i * n + k];
                for (int j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
            }
        /* Feed the result back so no repetition is redundant. */
        a[(r * 7919) % (n * n)] += c[(r * 104729) % (n * n)] * 1e-3;
        for (int i = 0; i < n * n; i++) sum += c[i];
    }
    printf("matmul %d^3 x %llu %.6f\n", n, (unsigned long long)reps, sum);
    return 0;
}
