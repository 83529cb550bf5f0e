/* CRC-32 (IEEE 802.3, reflected, table-driven byte at a time, as zlib's simple loop) over
 * 64 MiB: a 1 MiB buffer 64 times. Loads, table lookups, shifts and xors. */
#include <string.h>
#include "bench.h"

static uint32_t table[256];

int main(int argc, char **argv) {
    double scale = bench_scale(argc, argv);
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    size_t len = 1 << 20;
    uint64_t rounds = bench_n(scale, 64);
    uint8_t *buf = malloc(len);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = bench_rand();
        memcpy(buf + i, &v, 8);
    }
    uint32_t crc = 0xffffffffu;
    for (uint64_t r = 0; r < rounds; r++)
        for (size_t i = 0; i < len; i++) crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
    printf("crc32 %llu MiB %08x\n", (unsigned long long)rounds, crc ^ 0xffffffffu);
    return 0;
}
