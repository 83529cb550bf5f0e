// layer_save: changes files for the writable-layer tests (components/kernel/tests/persist.rs).
//   layer_save write   creates /kept.txt, calls sync(2), then removes /etc/gone and
//                      sleeps 50 ms (the kernel goes idle), and exits
//   layer_save show    prints /kept.txt and whether /etc/gone exists
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "write") == 0) {
        FILE *f = fopen("/kept.txt", "w");
        if (!f) return 1;
        fputs("kept\n", f);
        fclose(f);
        sync();
        if (unlink("/etc/gone") != 0) return 2;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        return 0;
    }
    char buf[64] = {0};
    FILE *f = fopen("/kept.txt", "r");
    if (f) {
        fgets(buf, sizeof buf, f);
        fclose(f);
    }
    printf("kept.txt: %s", f ? buf : "missing\n");
    printf("/etc/gone: %s\n", access("/etc/gone", F_OK) == 0 ? "present" : "absent");
    return 0;
}
