#ifndef CSYSTEM_H
#define CSYSTEM_H

/*
 * What Swift's Glibc module cannot reach: fork/exec done async-signal-safely,
 * signalfd, epoll, timerfd, prctl, SO_PEERCRED, SCM_CREDENTIALS, accept4,
 * pipe2. Each function is a thin call; the logic lives in Swift
 * (Sources/Daemon/System). Unless noted, functions return -1 with errno set
 * on failure, like the calls they wrap.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "orphan_guard.h"

/* One setrlimit of a spawn request; RLIM_INFINITY is all bits set. */
struct cs_resource_limit {
    int resource;              /* RLIMIT_* */
    uint64_t soft;
    uint64_t hard;
};

/* A fork/exec request; every pointer stays owned by the caller. */
struct cs_spawn_request {
    const char *path;          /* passed to execve as is */
    char *const *argv;         /* NULL-terminated */
    char *const *envp;         /* NULL-terminated */
    const char *cwd;           /* NULL: inherit */
    const int *listen_fds;     /* become fds 3..3+listen_count-1 */
    int listen_count;
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    /* Each points into one envp string just after "NAME=" (LISTEN_PID,
       WATCHDOG_PID), with room for 20 digits and a NUL; the child writes its
       own pid there, since only it knows it before exec. */
    char *const *pid_slots;
    int pid_slot_count;
    /* The child's soft RLIMIT_NOFILE (the hard one is kept): the master
       raises its own for its pipes, workers get what appd started with.
       0: leave as is. */
    uint64_t child_nofile_soft;
    /* The group's rlimits, set after child_nofile_soft (a configured
       nofile wins) and before the identity changes (raising a hard limit
       needs root). */
    const struct cs_resource_limit *limits;
    int limit_count;
    int set_nice;              /* nonzero: setpriority(nice) */
    int nice;
    int set_umask;             /* nonzero: umask(umask) */
    mode_t umask;
    /* Nonzero: setgroups(groups), setgid(gid), setuid(uid), in that order
       (each needs the privilege the next one gives up). */
    int set_identity;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int group_count;
    /* An fd of the worker's cgroup.procs (cgroup v2), open for writing: the
       child writes "0" to it first thing, joining that cgroup before it can
       fork anything (and before it gives up the privilege to write it).
       -1: stay in the master's cgroup. */
    int cgroup_procs_fd;
    /* The orphan guard's pipe (cs_orphan_guard_start), or -1: the child lists
       its own process group there before it runs the program, and takes it
       off again if it fails before the exec. */
    int guard_fd;
};

/* The step of cs_spawn that failed. */
enum {
    CS_STEP_FORK = 1, CS_STEP_SETUP, CS_STEP_CHDIR, CS_STEP_FDS, CS_STEP_EXEC, CS_STEP_LIMIT,
    CS_STEP_NICE, CS_STEP_SETGROUPS, CS_STEP_SETGID, CS_STEP_SETUID, CS_STEP_CGROUP,
};

/* What failed in a child, reported through the exec-error pipe. */
struct cs_spawn_failure {
    int step;                  /* CS_STEP_* */
    int error;                 /* errno */
    /* For CS_STEP_LIMIT: the index into limits, or -1 for child_nofile_soft. */
    int detail;
};

/* Starts the child in its own process group, killed when the forking thread
   dies, with default signal dispositions, an empty signal mask, only
   fds 0..2+listen_count open, the requested open-file soft limit, rlimits,
   nice value, umask and identity. Returns 0 and sets *out_pid, or returns
   the errno of the failed step and fills *failure; a child that failed is
   already reaped. */
int cs_spawn(const struct cs_spawn_request *req, pid_t *out_pid, struct cs_spawn_failure *failure);

/* signalfd (non-blocking, close-on-exec) for the given signal numbers. */
int cs_signalfd_create(const int *signals, int count);
/* Next pending signal number, 0 when drained, -1 on error. */
int cs_signalfd_next(int fd);

/* epoll; event bits equal EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP. */
enum {
    CS_POLL_IN = 0x001,
    CS_POLL_OUT = 0x004,
    CS_POLL_ERR = 0x008,
    CS_POLL_HUP = 0x010,
};
enum { CS_POLL_ADD = 1, CS_POLL_DEL = 2, CS_POLL_MOD = 3 };
struct cs_poll_event {
    uint32_t events;
    uint64_t token;
};
int cs_epoll_create(void);
int cs_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token);
/* Fills at most min(max, 256) events; returns how many. */
int cs_epoll_wait(int epfd, struct cs_poll_event *out, int max, int timeout_ms);

/* timerfd on CLOCK_MONOTONIC (non-blocking, close-on-exec). */
int cs_timerfd_create(void);
/* Fires at an absolute CLOCK_MONOTONIC time; a past time fires at once. */
int cs_timerfd_arm(int fd, uint64_t at_ns);
int cs_timerfd_disarm(int fd);
/* Reads the expiry count; 0 when nothing fired yet. */
int cs_timerfd_acknowledge(int fd);

int cs_set_child_subreaper(void);

int cs_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);
int cs_set_pass_credentials(int fd);
/* recvmsg of one datagram with its sender's credentials (pid 0 if absent).
   *truncated is set when the datagram was longer than len; file descriptors
   passed along are closed. Returns the bytes stored. */
ssize_t cs_recv_with_credentials(int fd, void *buf, size_t len, pid_t *pid, uid_t *uid, int *truncated);

/* accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC. */
int cs_accept(int fd);
/* pipe2 with O_CLOEXEC. */
int cs_pipe(int fds[2]);
/* fcntl(F_SETPIPE_SZ): the pipe's capacity raised to at least `size` bytes.
   Returns the capacity it got, or -1 with errno (EPERM past
   /proc/sys/fs/pipe-max-size or the user's pipe-user-pages-soft). */
int cs_pipe_set_size(int fd, int size);
/* splice(2) from the pipe `pipe_fd` to `out_fd`: up to `length` bytes moved
   by the kernel without passing through this process. `offset`: where in
   `out_fd` (a regular file opened without O_APPEND, which splice refuses),
   advanced by what was moved; NULL for a pipe or a device. Glibc declares
   splice only under _GNU_SOURCE, which Swift's Glibc module does not set. */
ssize_t cs_splice_from_pipe(int pipe_fd, int out_fd, int64_t *offset, size_t length);

/* ---- TCP sockets from the kernel: netlink sock_diag (INET_DIAG) ----
   Glibc has none of linux/netlink.h, sock_diag.h, inet_diag.h; the request
   and the walk over the answer's messages live here, the rest in Swift
   (Sources/Daemon/Stats/SockDiagTCPDump.swift). */

/* One TCP socket of the dump. Addresses are in network byte order (the
   first 4 bytes for AF_INET), ports in host order. For a listener the
   kernel's receive queue is the accept backlog now, its send queue the
   backlog limit. */
struct cs_tcp_socket {
    uint64_t inode;
    uint32_t receive_queue;
    uint32_t send_queue;
    uint8_t local_address[16];
    uint8_t remote_address[16];
    uint16_t local_port;
    uint16_t remote_port;
    uint8_t family;
    uint8_t state;
};

/* socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG). */
int cs_sock_diag_open(void);
/* Sends one dump request (inet_diag_req_v2) for the TCP sockets of family
   (AF_INET or AF_INET6) whose state bit (1 << TCP_state) is set in states. */
int cs_sock_diag_request_tcp(int fd, int family, uint32_t states, uint32_t sequence);
/* Receives one datagram of the answer to request `sequence` into buffer
   (32 KiB is what the kernel fills at most) and decodes its sockets into
   out, which holds capacity entries. Returns how many; sets *done when the
   dump ended. -1 with errno on failure, with the kernel's errno when it
   answered with an error, EMSGSIZE when the datagram did not fit, ENOBUFS
   when out is too small (length / 64 entries always suffice). */
int cs_sock_diag_receive_tcp(int fd, void *buffer, size_t length, uint32_t sequence,
                             struct cs_tcp_socket *out, int capacity, int *done);

/* O_PATH, which glibc declares only under _GNU_SOURCE (Swift's Glibc module
   does not see it): an fd that names a directory without reading it, for
   walking paths through directories one may search but not list, and as
   the dirfd of the *at calls. csystem.c checks that it equals glibc's. */
enum { CS_O_PATH = 010000000 };

/* getdents64(2): fills buffer with the next entries of the directory fd as
   struct linux_dirent64 records (u64 d_ino, s64 d_off, u16 d_reclen at 16,
   u8 d_type at 18, NUL-terminated d_name at 19). Returns the bytes filled,
   0 at the end. Lists /proc/PID/fd without opendir's fstat and malloc. */
ssize_t cs_getdents64(int fd, void *buffer, size_t length);

#endif
