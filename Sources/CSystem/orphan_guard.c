#include "orphan_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { GUARD_CAPACITY = 1 << 16 };

/* Reads exactly length bytes; 0 on success, -1 at EOF or on error. */
static int read_exactly(int fd, void *buffer, size_t length) {
    size_t done = 0;
    while (done < length) {
        ssize_t got = read(fd, (char *)buffer + done, length - done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        done += (size_t)got;
    }
    return 0;
}

/* Writes "1" to <cgroup>/cgroup.kill: every process in the subtree dies,
   the guard too if it is inside, after the kernel has signalled them all. */
static void kill_cgroup(const char *cgroup) {
    static const char suffix[] = "/cgroup.kill";
    char path[CS_ORPHAN_GUARD_CGROUP_MAX + sizeof suffix];
    size_t length = strlen(cgroup);
    memcpy(path, cgroup, length);
    memcpy(path + length, suffix, sizeof suffix);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    while (write(fd, "1", 1) < 0 && errno == EINTR) {}
    close(fd);
}

/* Whether /proc/<pid>/environ (pid as /proc names it) holds the NUL-delimited entry needle[1..]
   (needle starts and ends with a NUL, so a longer pid or a name that
   merely ends the same way never matches). Reads at most 64 KiB. */
static int environment_has(const char *pid, const char *needle, size_t needle_length) {
    static char buffer[1 << 16];
    char path[48] = "/proc/";
    size_t length = strlen(pid);
    if (length > 20) return 0;
    memcpy(path + 6, pid, length);
    memcpy(path + 6 + length, "/environ", sizeof "/environ");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    buffer[0] = '\0';
    size_t filled = 1;
    ssize_t got;
    while (filled < sizeof buffer - 1 && ((got = read(fd, buffer + filled, sizeof buffer - 1 - filled)) > 0 || (got < 0 && errno == EINTR))) {
        if (got > 0) filled += (size_t)got;
    }
    close(fd);
    buffer[filled++] = '\0';
    return memmem(buffer, filled, needle, needle_length) != NULL;
}

/* SIGKILLs every process whose environment says the dead master started
   it (APP_MASTER_PID, which appd gives each worker and their children
   inherit): without cgroups, the only way to find what left its process
   group with setsid. getdents64 rather than opendir: no allocation. */
static void kill_by_environment(const char *needle, size_t needle_length) {
    /* A /proc of another pid namespace (the host's, seen from a container)
       numbers processes differently: its pids are not ours to kill. */
    char self[24];
    ssize_t self_length = readlink("/proc/self", self, sizeof self - 1);
    if (self_length <= 0) return;
    long self_pid = 0;
    for (ssize_t i = 0; i < self_length; i++) self_pid = self_pid * 10 + (self[i] - '0');
    if (self_pid != (long)getpid()) return;
    int directory = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory < 0) return;
    static char entries[1 << 14];
    long filled;
    while ((filled = syscall(SYS_getdents64, directory, entries, sizeof entries)) > 0) {
        for (long offset = 0; offset < filled;) {
            unsigned short record_length;
            memcpy(&record_length, entries + offset + 16, sizeof record_length);
            const char *name = entries + offset + 19;
            offset += record_length;
            long pid = 0;
            for (const char *c = name; pid >= 0 && *c != '\0'; c++) pid = *c >= '0' && *c <= '9' ? pid * 10 + (*c - '0') : -1;
            if (pid <= 1 || pid == getpid()) continue;
            if (environment_has(name, needle, needle_length)) kill((pid_t)pid, SIGKILL);
        }
    }
    close(directory);
}

/* The guard's loop: only async-signal-safe calls, no allocation. It starts
   with the groups and the cgroup it was given (read from the master's
   memory, which the fork copied) and goes on with what the pipe says. */
static void guard_run(int read_fd, const char *needle, size_t needle_length,
                      const int32_t *initial, int initial_count, const char *initial_cgroup) {
    static pid_t groups[GUARD_CAPACITY];
    static char cgroup[CS_ORPHAN_GUARD_CGROUP_MAX];
    int count = 0;
    for (int i = 0; i < initial_count && count < GUARD_CAPACITY; i++) {
        if (initial[i] > 0) groups[count++] = initial[i];
    }
    if (initial_cgroup != NULL) {
        size_t length = strlen(initial_cgroup);
        if (length < CS_ORPHAN_GUARD_CGROUP_MAX) memcpy(cgroup, initial_cgroup, length + 1);
    }
    int32_t record;
    for (;;) {
        if (read_exactly(read_fd, &record, sizeof record) != 0) break; /* EOF: the master is gone. */
        if (record == 0) {
            int32_t length;
            if (read_exactly(read_fd, &length, sizeof length) != 0 || length <= 0 || length >= CS_ORPHAN_GUARD_CGROUP_MAX) break;
            if (read_exactly(read_fd, cgroup, (size_t)length) != 0) break;
            cgroup[length] = '\0';
        } else if (record > 0) {
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
    kill_by_environment(needle, needle_length);
    if (cgroup[0] != '\0') kill_cgroup(cgroup);
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

int cs_orphan_guard_start(pid_t *guard_pid, const int32_t *groups, int count, const char *cgroup) {
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
    /* "\0APP_MASTER_PID=<pid>\0", made before the fork, where snprintf may run. */
    char needle[48];
    int needle_length = snprintf(needle, sizeof needle, "%cAPP_MASTER_PID=%ld%c", '\0', (long)getpid(), '\0');
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
        guard_run(read_fd, needle, (size_t)needle_length, groups, groups == NULL ? 0 : count, cgroup);
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

int cs_orphan_guard_note_cgroup(int fd, const char *path) {
    size_t length = strlen(path);
    if (length == 0 || length >= CS_ORPHAN_GUARD_CGROUP_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* One write of at most PIPE_BUF bytes: atomic, never interleaved. */
    char record[2 * sizeof(int32_t) + CS_ORPHAN_GUARD_CGROUP_MAX];
    int32_t header[2] = {0, (int32_t)length};
    memcpy(record, header, sizeof header);
    memcpy(record + sizeof header, path, length);
    ssize_t written;
    do {
        written = write(fd, record, sizeof header + length);
    } while (written < 0 && errno == EINTR);
    return written == (ssize_t)(sizeof header + length) ? 0 : -1;
}
