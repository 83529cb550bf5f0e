// System V message queues: typed messages, selection by type (first, exact, MSG_EXCEPT,
// lowest up to a bound), E2BIG and MSG_NOERROR, a full queue (IPC_NOWAIT and a writer
// woken by a reader), a reader woken by a writer in another process, EINTR with
// SA_RESTART, EIDRM when the queue goes under a waiter, IPC_SET of msg_qbytes, and
// permissions. Prints only what every Linux prints (no ids). Compared against the qemu
// chroot reference.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

struct msg {
    long type;
    char text[64];
};

static const char *err(long r) { return r == -1 ? strerrorname_np(errno) : "ok"; }

static int send(int q, long type, const char *text) {
    struct msg m = {.type = type};
    strcpy(m.text, text);
    return msgsnd(q, &m, strlen(text), IPC_NOWAIT);
}

static void recv_show(int q, long type, int flags) {
    struct msg m;
    memset(&m, 0, sizeof m);
    ssize_t n = msgrcv(q, &m, sizeof m.text, type, flags | IPC_NOWAIT);
    if (n < 0)
        printf("recv %ld: %s\n", type, err(-1));
    else
        printf("recv %ld: type %ld \"%.*s\"\n", type, m.type, (int)n, m.text);
}

static void on_alarm(int sig) { (void)sig; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const key_t key = 0x5f1c5e03;
    int old = msgget(key, 0);
    if (old >= 0) msgctl(old, IPC_RMID, NULL);

    printf("missing key: %s\n", err(msgget(key, 0600)));
    int q = msgget(key, IPC_CREAT | IPC_EXCL | 0640);
    printf("create: %s\n", err(q));
    printf("create again exclusive: %s\n", err(msgget(key, IPC_CREAT | IPC_EXCL)));
    printf("open is the same: %d\n", msgget(key, 0) == q);
    struct msqid_ds ds;
    msgctl(q, IPC_STAT, &ds);
    printf("stat: qbytes %lu qnum %lu mode %o\n", (unsigned long)ds.msg_qbytes,
           (unsigned long)ds.msg_qnum, (unsigned)ds.msg_perm.mode & 0777);

    printf("type 0: %s\n", err(send(q, 0, "x")));
    static struct {
        long type;
        char text[9000];
    } big = {.type = 1};
    printf("too long: %s\n", err(msgsnd(q, &big, 8193, 0)));
    send(q, 3, "three");
    send(q, 1, "one");
    send(q, 2, "two");
    send(q, 1, "one again");
    msgctl(q, IPC_STAT, &ds);
    printf("queued: %lu messages, %lu bytes, lspid is me %d\n", (unsigned long)ds.msg_qnum,
           (unsigned long)ds.__msg_cbytes, ds.msg_lspid == getpid());
    recv_show(q, 2, 0);
    recv_show(q, -2, 0);
    recv_show(q, 1, MSG_EXCEPT);
    recv_show(q, 0, 0);
    recv_show(q, 0, 0);

    send(q, 5, "a long message");
    struct msg m;
    printf("short buffer: %s\n", err(msgrcv(q, &m, 4, 0, IPC_NOWAIT)));
    printf("MSG_NOERROR: %zd\n", msgrcv(q, &m, 4, 0, IPC_NOWAIT | MSG_NOERROR));
    printf("cut to: %.4s\n", m.text);

    // A full queue: IPC_NOWAIT, then a writer woken by a reader in another process.
    ds.msg_qbytes = 20;
    printf("shrink: %s\n", err(msgctl(q, IPC_SET, &ds)));
    printf("fill: %s\n", err(send(q, 1, "0123456789abcdef")));
    printf("full: %s\n", err(send(q, 1, "0123456789")));
    pid_t child = fork();
    if (child == 0) {
        struct msg w = {.type = 9};
        strcpy(w.text, "waited");
        _exit(msgsnd(q, &w, 6, 0) == 0 ? 0 : 1);
    }
    usleep(200000);
    recv_show(q, 0, 0);
    int status;
    waitpid(child, &status, 0);
    printf("child sent: %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "failed");
    recv_show(q, 0, 0);
    ds.msg_qbytes = 16384;
    printf("grow back: %s\n", err(msgctl(q, IPC_SET, &ds)));

    // A reader woken by a writer.
    child = fork();
    if (child == 0) {
        struct msg r;
        ssize_t n = msgrcv(q, &r, sizeof r.text, 7, 0);
        printf("child got: %zd %.*s\n", n, (int)(n > 0 ? n : 0), r.text);
        _exit(0);
    }
    usleep(200000);
    send(q, 6, "not for the child");
    send(q, 7, "for the child");
    waitpid(child, &status, 0);
    recv_show(q, 0, 0);
    recv_show(q, 0, 0);

    // A signal ends a wait with EINTR even with SA_RESTART.
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigaction(SIGALRM, &sa, NULL);
    ualarm(50000, 0);
    printf("signal: %s\n", err(msgrcv(q, &m, sizeof m.text, 0, 0)));

    // Raising msg_qbytes past MSGMNB needs privilege; another user may not.
    int pub = msgget(IPC_PRIVATE, 0644);
    int priv = msgget(IPC_PRIVATE, 0600);
    child = fork();
    if (child == 0) {
        if (setgid(65534) || setuid(65534)) _exit(3);
        printf("other user send 0644: %s\n", err(send(pub, 1, "x")));
        printf("other user stat 0600: %s\n", err(msgctl(priv, IPC_STAT, &ds)));
        struct msg r;
        printf("other user recv 0644: %s\n", err(msgrcv(pub, &r, 10, 0, IPC_NOWAIT)));
        printf("other user rmid: %s\n", err(msgctl(pub, IPC_RMID, NULL)));
        _exit(0);
    }
    waitpid(child, &status, 0);

    // Removed under a waiter: EIDRM.
    child = fork();
    if (child == 0) {
        struct msg r;
        printf("child on removed queue: %s\n", err(msgrcv(priv, &r, 10, 0, 0)));
        _exit(0);
    }
    usleep(200000);
    // Printed after the child's line: the removal wakes it.
    int rmid = msgctl(priv, IPC_RMID, NULL);
    waitpid(child, &status, 0);
    printf("rmid: %s\n", err(rmid));
    printf("removed: %s\n", err(msgctl(priv, IPC_STAT, &ds)));
    msgctl(pub, IPC_RMID, NULL);
    printf("rmid main: %s\n", err(msgctl(q, IPC_RMID, NULL)));
    return 0;
}
