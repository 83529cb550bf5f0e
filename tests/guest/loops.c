/* Loops of the shapes compilers emit, run long enough (about 40 million instructions)
 * that the kernel preempts them part-way many times: one-block inner loops inside
 * loops, loops sharing a header, a rarely taken out-of-line call that jumps back into
 * the loop, a loop entered in its middle, early exits. tests/aot.rs compares the
 * translated run (rv2wasm builds loops as Wasm loops; a preempted loop is re-entered
 * through the function's dispatch) with the interpreter's output. */
#include <stdint.h>
#include <stdio.h>

#define N 5
static double pos[N][3], vel[N][3], mass[N];
static int rare;

/* Out of line and rarely called: the call sits on a cold path that jumps back. */
__attribute__((noinline)) static double fix(double d2) {
    rare++;
    return d2 + 1e-3;
}

static double advance(int steps) {
    double e = 0;
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < N; i++) {
            for (int j = i + 1; j < N; j++) {
                double d[3], d2 = 0;
                for (int k = 0; k < 3; k++) {
                    d[k] = pos[i][k] - pos[j][k];
                    d2 += d[k] * d[k];
                }
                if (d2 < 0.5)
                    d2 = fix(d2);
                double mag = 0.01 / (d2 * d2);
                for (int k = 0; k < 3; k++) {
                    vel[i][k] -= d[k] * mass[j] * mag;
                    vel[j][k] += d[k] * mass[i] * mag;
                }
            }
        }
        for (int i = 0; i < N; i++)
            for (int k = 0; k < 3; k++)
                pos[i][k] += 0.01 * vel[i][k];
    }
    for (int i = 0; i < N; i++)
        e += mass[i] * (vel[i][0] * vel[i][0] + vel[i][1] * vel[i][1] + vel[i][2] * vel[i][2]);
    return e;
}

/* Hoare partition: an inner scanning loop entered in its middle, nested in the outer. */
static void sort(uint64_t *a, long n) {
    while (n > 8) {
        uint64_t p = a[n / 2];
        long i = -1, j = n;
        for (;;) {
            do i++; while (a[i] < p);
            do j--; while (a[j] > p);
            if (i >= j)
                break;
            uint64_t t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        sort(a, j + 1);
        a += j + 1;
        n -= j + 1;
    }
    for (long i = 1; i < n; i++)
        for (long k = i; k > 0 && a[k - 1] > a[k]; k--) {
            uint64_t t = a[k];
            a[k] = a[k - 1];
            a[k - 1] = t;
        }
}

static uint64_t keys[1 << 15];

int main(void) {
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 3; k++) {
            pos[i][k] = (i * 3 + k) % 7 - 3.0;
            vel[i][k] = ((i + k) % 3 - 1) * 0.1;
        }
        mass[i] = 1.0 + i;
    }
    printf("energy %.9f rare %d\n", advance(40000), rare);

    uint64_t x = 88172645463325252ull, sum = 0;
    for (int r = 0; r < 4; r++) {
        for (long i = 0; i < (1 << 15); i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            keys[i] = x % 100000;
        }
        sort(keys, 1 << 15);
        for (long i = 1; i < (1 << 15); i++)
            if (keys[i - 1] > keys[i]) {
                printf("unsorted at %ld\n", i);
                return 1;
            }
        for (long i = 0; i < (1 << 15); i += 97)
            sum = sum * 31 + keys[i];
    }
    printf("sorted sum %llu\n", (unsigned long long)sum);

    uint32_t crc = 0xffffffffu, table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    for (int r = 0; r < 8; r++)
        for (long i = 0; i < (1 << 15); i++)
            crc = table[(crc ^ (uint8_t)keys[i]) & 0xff] ^ (crc >> 8);
    printf("crc %08x\n", crc ^ 0xffffffffu);
    return 0;
}
