#include "orphan_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

enum { GUARD_CAPACITY = 1 << 16 };

/* The guard's loop: only async-signal-safe calls, no allocation. It starts
   with the groups it was given (read from the master's memory, which the
   fork copied) and goes on with what the pipe says. */
static void guard_run(int read_fd, const int32_t *initial, int initial_count) {
    static pid_t groups[GUARD_CAPACITY];
    int count = 0;
    for (int i = 0; i < initial_count && count < GUARD_CAPACITY; i++) {
        if (initial[i] > 0) groups[count++] = initial[i];
    }
    int32_t record;
    for (;;) {
        ssize_t got = read(read_fd, &record, sizeof record);
        if (got < 0 && errno == EINTR) continue;
        if (got != (ssize_t)sizeof record) break; /* EOF: the master is gone. */
        if (record > 0) {
            if (count < GUARD_CAPACITY) groups[count++] = record;
        } else {
            for (int i = 0; i < count; i++) {
                if (groups[i] == -record) {
                    groups[i] = groups[--count];
                    break;
                }
            }
        }
    }
    for (int i = 0; i < count; i++) kill(-groups[i], SIGKILL);
    _exit(0);
}

/* Closes every fd >= 3 but keep: close_range (Linux 5.9), else a loop up
   to the soft limit. */
static void close_all_but(int keep) {
    if ((keep == 3 || close_range(3, (unsigned)keep - 1, 0) == 0) && close_range((unsigned)keep + 1, ~0U, 0) == 0) return;
    struct rlimit limit;
    int last = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 1048576 ? (int)limit.rlim_cur : 1048576;
    for (int fd = 3; fd < last; fd++) {
        if (fd != keep) close(fd);
    }
}

int cs_orphan_guard_start(pid_t *guard_pid, const int32_t *groups, int count) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    /* Only the master's end: the guard's reads must block. */
    if (fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        errno = saved;
        return -1;
    }
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[1]);
        /* Its own process group, so a terminal's Ctrl-C or a group signal
           aimed at the master's group cannot take it down early; every
           catchable signal stays blocked: only EOF ends it. */
        setpgid(0, 0);
        prctl(PR_SET_NAME, "appd-guard");
        /* No hold on the master's terminal, pipes or files (its log, the
           --daemonize report pipe): whoever waits for EOF on one of them
           must not wait for the guard. The read end first moves above 2 in
           case the master started with one of 0..2 closed. */
        int read_fd = fds[0] > 2 ? fds[0] : fcntl(fds[0], F_DUPFD, 3);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        close_all_but(read_fd);
        guard_run(read_fd, groups, groups == NULL ? 0 : count);
    }
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(fds[0]);
    if (pid < 0) {
        close(fds[1]);
        errno = saved;
        return -1;
    }
    *guard_pid = pid;
    return fds[1];
}

int cs_orphan_guard_note(int fd, int32_t signed_pgid) {
    ssize_t written;
    do {
        written = write(fd, &signed_pgid, sizeof signed_pgid);
    } while (written < 0 && errno == EINTR);
    return written == (ssize_t)sizeof signed_pgid ? 0 : -1;
}
