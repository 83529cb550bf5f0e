// caps: capability sets (capabilities(7)) as capget, capset, prctl, the setuid family and
// execve change them. Starts as root in the directory argv[1] (fs_check.h's enter); every result is printed relative to the bounding
// set the program started with ("bnd", "bnd-7", "7,10", "none"), so that friscy's output
// can be compared with Linux's whatever capabilities the reference host grants root.
#include "fs_check.h"
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdint.h>
#include <dirent.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static uint64_t start_bnd;

struct sets {
    uint64_t eff, prm, inh;
};

static int capget3(pid_t pid, struct sets *s) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, pid};
    struct __user_cap_data_struct d[2];
    int r = syscall(SYS_capget, &h, d);
    if (r == 0) {
        s->eff = d[0].effective | (uint64_t)d[1].effective << 32;
        s->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
        s->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
    }
    return r;
}

static int capset3(uint64_t eff, uint64_t prm, uint64_t inh) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {
        {(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
        {(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
    };
    return syscall(SYS_capset, &h, d);
}

static uint64_t bnd_now(void) {
    uint64_t b = 0;
    for (int c = 0; c <= 63; c++) {
        int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
        if (r < 0) break;
        if (r) b |= 1ull << c;
    }
    return b;
}

// A set relative to the starting bounding set.
static void show_set(const char *name, uint64_t s) {
    printf(" %s=", name);
    if (s == 0) {
        printf("none");
    } else if ((s & start_bnd) == s && __builtin_popcountll(start_bnd & ~s) <= 4) {
        printf("bnd");
        for (int c = 0; c < 64; c++)
            if ((start_bnd & ~s) >> c & 1) printf("-%d", c);
    } else {
        const char *sep = "";
        for (int c = 0; c < 64; c++)
            if (s >> c & 1) {
                printf("%s%d", sep, c);
                sep = ",";
            }
    }
}

static void caps(const char *when) {
    struct sets s;
    if (capget3(0, &s) != 0) {
        printf("%s: capget: %s\n", when, strerror(errno));
        return;
    }
    uid_t r, e, sv;
    getresuid(&r, &e, &sv);
    printf("%s: uid %d %d %d fsuid %d", when, r, e, sv, setfsuid(-1));
    show_set("eff", s.eff);
    show_set("prm", s.prm);
    show_set("inh", s.inh);
    show_set("bnd", bnd_now());
    uint64_t amb = 0;
    for (int c = 0; c <= CAP_LAST_CAP; c++)
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1) amb |= 1ull << c;
    show_set("amb", amb);
    printf(" keep %d secure %#x\n", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0),
           prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
    fflush(stdout);
}

static void wait_child(pid_t pid) {
    int status;
    waitpid(pid, &status, 0);
    printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    fflush(stdout);
}

static uint64_t bit(int c) { return 1ull << c; }

// The header: versions, a null data pointer, another process.
static void header(void) {
    struct __user_cap_header_struct h = {0x12345678, 0};
    struct __user_cap_data_struct d[2];
    T(syscall(SYS_capget, &h, d));
    printf("  -> version %#x\n", h.version);
    h.version = 0x12345678;
    T(syscall(SYS_capget, &h, NULL));
    printf("  -> version %#x\n", h.version);
    h.version = _LINUX_CAPABILITY_VERSION_1;
    T(syscall(SYS_capget, &h, d));
    printf("  -> v1 eff low word full %d\n", d[0].effective == (uint32_t)start_bnd);
    h.version = _LINUX_CAPABILITY_VERSION_3;
    h.pid = -1;
    T(syscall(SYS_capget, &h, d));
    h.pid = 999999;
    T(syscall(SYS_capget, &h, d));
    // Only the caller's own sets may be changed (checked before any lookup).
    h.pid = getpid() + 1000;
    T(syscall(SYS_capset, &h, d));
    h.version = 1;
    h.pid = 0;
    T(syscall(SYS_capset, &h, d));
}

// Root drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its effective set: a mode 000
// file is closed to it, until it raises them again from the permitted set.
static void dac(void) {
    int fd = open("secret", O_CREAT | O_WRONLY | O_TRUNC, 0);
    close(fd);
    chmod("secret", 0);
    T(mkdir("closed", 0));
    uint64_t all = start_bnd, dac = bit(CAP_DAC_OVERRIDE) | bit(CAP_DAC_READ_SEARCH);
    T(capset3(all & ~dac, all, 0));
    caps("dac dropped");
    T(open("secret", O_RDONLY));
    T(open("closed/x", O_CREAT | O_WRONLY, 0644));
    T(access("secret", R_OK));
    T(capset3(all & ~bit(CAP_DAC_OVERRIDE), all, 0));
    T(open("secret", O_RDONLY) >= 0);
    T(open("secret", O_WRONLY));
    T(opendir("closed") != NULL);
    T(capset3(all, all, 0));
    T(open("secret", O_WRONLY) >= 0);
    // Growing permitted, effective beyond permitted, inheritable beyond both.
    T(capset3(all & ~bit(CAP_CHOWN), all & ~bit(CAP_CHOWN), 0));
    T(capset3(all, all, 0));
    T(capset3(all & ~bit(CAP_FOWNER), all & ~bit(CAP_CHOWN), 0));
    // Without CAP_SETPCAP the inheritable set stays within inheritable | permitted.
    uint64_t no_pcap = all & ~bit(CAP_CHOWN) & ~bit(CAP_SETPCAP);
    T(capset3(no_pcap, all & ~bit(CAP_CHOWN), bit(CAP_CHOWN)));
    T(capset3(no_pcap, all & ~bit(CAP_CHOWN), bit(CAP_KILL)));
    caps("after capsets");
    T(chown("secret", 5, 5));
    T(kill(1, 0));
}

// setuid away from root: permitted and effective go, unless SECBIT_KEEP_CAPS.
static void to_user(int keep) {
    if (keep) T(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
    caps("before setresuid");
    T(setresuid(1000, 1000, 1000));
    caps("after setresuid");
    T(setuid(0));
    if (keep) {
        // CAP_SETUID is permitted: make it effective and become root again.
        struct sets s;
        capget3(0, &s);
        T(capset3(bit(CAP_SETUID), s.prm, 0));
        T(setuid(0));
        T(setresuid(0, 0, 0));
        caps("root again");
    }
}

// seteuid-style: an effective uid leaving 0 clears the effective set, coming back
// restores it from the permitted one; setfsuid moves only the filesystem capabilities.
static void effective_only(void) {
    T(setresuid(-1, 1000, -1));
    caps("euid 1000");
    T(setresuid(-1, 0, -1));
    caps("euid 0");
    T(setfsuid(1000) >= 0);
    caps("fsuid 1000");
    T(setfsuid(0) >= 0);
    caps("fsuid 0");
}

static void bounding_and_ambient(const char *self) {
    T(prctl(PR_CAPBSET_DROP, CAP_NET_RAW, 0, 0, 0));
    T(prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0));
    T(prctl(PR_CAPBSET_READ, 64, 0, 0, 0));
    T(prctl(PR_CAPBSET_DROP, 64, 0, 0, 0));
    // Ambient: needs the capability permitted and inheritable.
    T(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0));
    struct sets s;
    capget3(0, &s);
    T(capset3(s.eff, s.prm, bit(CAP_NET_BIND_SERVICE) | bit(CAP_KILL)));
    T(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0));
    T(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0));
    T(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_KILL, 0, 0));
    T(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0));
    T(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 99, 0, 0));
    T(prctl(PR_CAP_AMBIENT, 9, 0, 0, 0));
    T(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0));
    caps("ambient raised");
    // execve as root: permitted = bounding | inheritable, the ambient set stays.
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, self, "show", "exec as root", NULL);
        _exit(9);
    }
    wait_child(pid);
    // As user 1000 with SECBIT_KEEP_CAPS: execve leaves the ambient set alone.
    pid = fork();
    if (pid == 0) {
        T(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
        T(setresuid(1000, 1000, 1000));
        caps("user, keep caps");
        // Leaving root cleared the ambient set; it may be raised again from what stayed
        // permitted and inheritable.
        T(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0));
        execl(self, self, "show", "exec as user", NULL);
        _exit(9);
    }
    wait_child(pid);
    // Lowering the inheritable set takes the capability out of the ambient set.
    capget3(0, &s);
    T(capset3(s.eff, s.prm, 0));
    T(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0));
}

static void securebits(void) {
    T(prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_NO_SETUID_FIXUP, 0, 0, 0));
    caps("securebits set");
    T(prctl(PR_SET_SECUREBITS, 1 << 30, 0, 0, 0));
    T(prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_KEEP_CAPS_LOCKED, 0, 0, 0));
    T(prctl(PR_SET_SECUREBITS, 0, 0, 0, 0));
    T(prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0));
    // No setuid fixup here: with KEEP_CAPS locked on, leaving root keeps everything.
    T(setresuid(1000, 1000, 1000));
    caps("user with keep_caps locked");
}

int main(int argc, char **argv) {
    start_bnd = bnd_now();
    if (argc > 2 && strcmp(argv[1], "show") == 0) {
        caps(argv[2]);
        return 0;
    }
    const char *self = argv[0];
    enter(argc, argv);
    caps("start");
    header();
    pid_t pid = fork();
    if (pid == 0) {
        dac();
        _exit(0);
    }
    wait_child(pid);
    pid = fork();
    if (pid == 0) {
        to_user(0);
        _exit(0);
    }
    wait_child(pid);
    pid = fork();
    if (pid == 0) {
        to_user(1);
        _exit(0);
    }
    wait_child(pid);
    pid = fork();
    if (pid == 0) {
        effective_only();
        _exit(0);
    }
    wait_child(pid);
    pid = fork();
    if (pid == 0) {
        bounding_and_ambient(self);
        _exit(0);
    }
    wait_child(pid);
    pid = fork();
    if (pid == 0) {
        securebits();
        _exit(0);
    }
    wait_child(pid);
    unlink("secret");
    rmdir("closed");
    return 0;
}
