#include "csystem.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

_Static_assert(CS_POLL_IN == EPOLLIN && CS_POLL_OUT == EPOLLOUT && CS_POLL_ERR == EPOLLERR
                   && CS_POLL_HUP == EPOLLHUP,
               "CS_POLL_* must equal the EPOLL* bits");
_Static_assert(CS_O_PATH == O_PATH, "CS_O_PATH must equal glibc's O_PATH");
/* Sources/Shared/Config/ResourceLimit.swift numbers the resources itself. */
_Static_assert(RLIMIT_CPU == 0 && RLIMIT_FSIZE == 1 && RLIMIT_DATA == 2 && RLIMIT_STACK == 3 && RLIMIT_CORE == 4
                   && RLIMIT_RSS == 5 && RLIMIT_NPROC == 6 && RLIMIT_NOFILE == 7 && RLIMIT_MEMLOCK == 8
                   && RLIMIT_AS == 9 && RLIMIT_LOCKS == 10 && RLIMIT_SIGPENDING == 11 && RLIMIT_MSGQUEUE == 12
                   && RLIMIT_NICE == 13 && RLIMIT_RTPRIO == 14 && RLIMIT_RTTIME == 15,
               "ResourceLimitName.resource must equal glibc's RLIMIT_* numbers");

/* ---- spawn: everything below until cs_spawn runs in the forked child, so
   it may only call async-signal-safe functions. ---- */

/* The child's own copy of the orphan guard's pipe once it has listed its
   process group there (-1 before): a child that fails after that takes its
   group off the list again. Set only in the forked child. */
static int noted_guard_fd = -1;

/* Reports what failed to the parent through the close-on-exec pipe. */
static _Noreturn void child_fail_at(int error_pipe, int step, int detail) {
    struct cs_spawn_failure report = {.step = step, .error = errno, .detail = detail};
    if (noted_guard_fd >= 0) cs_orphan_guard_note(noted_guard_fd, -(int32_t)getpid());
    while (write(error_pipe, &report, sizeof report) < 0 && errno == EINTR) {}
    _exit(127);
}

static _Noreturn void child_fail(int error_pipe, int step) { child_fail_at(error_pipe, step, -1); }

/* Writes the decimal digits of value and a NUL (async-signal-safe itoa). */
static void write_decimal(char *slot, pid_t value) {
    char digits[21];
    int count = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    for (int i = 0; i < count; i++) slot[i] = digits[count - 1 - i];
    slot[count] = '\0';
}

/* Marks every fd >= first close-on-exec. close_range's CLOEXEC flag needs
   Linux 5.11; older kernels get the loop. */
static int cloexec_from(int first) {
    if (close_range((unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return 0;
    if (errno != ENOSYS && errno != EINVAL) return -1;
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
    int last = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > 1048576 ? 1048576 : (int)limit.rlim_cur;
    for (int fd = first; fd < last; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
    return 0;
}

/* The sigset size rt_sigaction demands: the kernel's sigset_t, 64 signals
   (_NSIG) on x86_64 and arm64. Not glibc's NSIG / 8: NSIG is 65 (it counts
   signal 0) and gives 8 only by the rounding of the division. */
enum { KERNEL_SIGSET_BYTES = 64 / 8 };

static _Noreturn void child_run(const struct cs_spawn_request *req, pid_t parent, int error_pipe) {
    /* Dispositions first (the mask still blocks everything), then the mask:
       a child must not inherit the master's blocked TERM/INT/USR1. Raw
       rt_sigaction, because glibc's sigaction refuses the signals it keeps
       for itself (32, 33) although exec passes on their SIG_IGN too. All
       zeros is SIG_DFL with no flags and an empty mask on every layout. */
    static const unsigned long default_action[8];
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, default_action, NULL, KERNEL_SIGSET_BYTES);
    }
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);

    /* The error pipe above the fds being dup2'd into 0..2+n, so that no
       listening socket lands on it: it reports every step after that. */
    int count = 3 + req->listen_count;
    if (error_pipe < count) {
        int parked_pipe = fcntl(error_pipe, F_DUPFD_CLOEXEC, count);
        if (parked_pipe < 0) child_fail(error_pipe, CS_STEP_FDS);
        error_pipe = parked_pipe;
    }

    /* Own process group: a terminal's Ctrl-C reaches only the master. */
    if (setpgid(0, 0) != 0) child_fail(error_pipe, CS_STEP_SETUP);
    /* Into its cgroup before anything else: what it forks later stays inside. */
    if (req->cgroup_procs_fd >= 0 && write(req->cgroup_procs_fd, "0", 1) != 1) child_fail(error_pipe, CS_STEP_CGROUP);
    /* Its process group goes on the orphan guard's list now, before it can
       run anything: a master SIGKILLed between the exec and its own
       bookkeeping must not leave behind what the program forked at once.
       The pipe's end is first copied above the fds set up below (0..2+n), so
       that child_fail never writes into one of those. A note the full pipe
       cannot take is dropped, as the master's own notes are. */
    if (req->guard_fd >= 0) {
        int guard = fcntl(req->guard_fd, F_DUPFD_CLOEXEC, count);
        if (guard < 0) child_fail(error_pipe, CS_STEP_FDS);
        if (cs_orphan_guard_note(guard, (int32_t)getpid()) == 0) noted_guard_fd = guard;
    }

    /* Sources may overlap their targets (0..2+n): park every source above the
       target range first, then dup2 down; dup2 clears close-on-exec. */
    int parked[count];
    for (int i = 0; i < count; i++) {
        int source = i == 0 ? req->stdin_fd
                   : i == 1 ? req->stdout_fd
                   : i == 2 ? req->stderr_fd
                   : req->listen_fds[i - 3];
        parked[i] = fcntl(source, F_DUPFD_CLOEXEC, count);
        if (parked[i] < 0) child_fail(error_pipe, CS_STEP_FDS);
    }
    for (int i = 0; i < count; i++) {
        if (dup2(parked[i], i) < 0) child_fail(error_pipe, CS_STEP_FDS);
    }
    if (cloexec_from(count) != 0) child_fail(error_pipe, CS_STEP_FDS);

    /* Limits after cloexec_from, whose fallback loop runs up to the master's
       raised limit: the child gets the soft limit appd was started with, then
       the group's rlimits (so a configured nofile wins). Before the identity
       changes: raising a hard limit, and a lower nice value, need root. */
    if (req->child_nofile_soft != 0) {
        struct rlimit limit;
        if (getrlimit(RLIMIT_NOFILE, &limit) != 0) child_fail(error_pipe, CS_STEP_LIMIT);
        limit.rlim_cur = (rlim_t)req->child_nofile_soft;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) child_fail(error_pipe, CS_STEP_LIMIT);
    }
    for (int i = 0; i < req->limit_count; i++) {
        struct rlimit limit = {.rlim_cur = (rlim_t)req->limits[i].soft, .rlim_max = (rlim_t)req->limits[i].hard};
        if (setrlimit((__rlimit_resource_t)req->limits[i].resource, &limit) != 0) child_fail_at(error_pipe, CS_STEP_LIMIT, i);
    }
    if (req->set_nice && setpriority(PRIO_PROCESS, 0, req->nice) != 0) child_fail(error_pipe, CS_STEP_NICE);
    if (req->set_umask) umask(req->umask);

    /* Supplementary groups, then the group, then the user: each needs the
       privilege the next one gives up. Raw system calls, not glibc's
       wrappers: those broadcast the change to every thread of the process
       (taking locks a thread of the master may have held at fork), which
       this one-thread child does not need. */
    if (req->set_identity) {
        if (syscall(SYS_setgroups, (size_t)req->group_count, req->groups) != 0) child_fail(error_pipe, CS_STEP_SETGROUPS);
        if (syscall(SYS_setresgid, req->gid, req->gid, req->gid) != 0) child_fail(error_pipe, CS_STEP_SETGID);
        if (syscall(SYS_setresuid, req->uid, req->uid, req->uid) != 0) child_fail(error_pipe, CS_STEP_SETUID);
    }

    /* Die with the master, even when it is SIGKILLed; it may already be gone.
       After the identity: a change of uid or gid clears PDEATHSIG. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(error_pipe, CS_STEP_SETUP);
    /* Its parent died before PDEATHSIG was armed: fail like any other step,
       never with an EOF that would read as a successful exec. */
    if (getppid() != parent) {
        errno = ESRCH;
        child_fail(error_pipe, CS_STEP_SETUP);
    }
    /* As the worker's user: a directory it may not enter fails here, clearly. */
    if (req->cwd != NULL && chdir(req->cwd) != 0) child_fail(error_pipe, CS_STEP_CHDIR);

    for (int i = 0; i < req->pid_slot_count; i++) write_decimal(req->pid_slots[i], getpid());
    execve(req->path, req->argv, req->envp);
    child_fail(error_pipe, CS_STEP_EXEC);
}

int cs_spawn(const struct cs_spawn_request *req, pid_t *out_pid, struct cs_spawn_failure *failure) {
    *failure = (struct cs_spawn_failure){.step = CS_STEP_FORK, .error = 0, .detail = -1};
    int error_pipe[2];
    if (pipe2(error_pipe, O_CLOEXEC) != 0) return errno;

    /* No handler of the master may run in the child before it resets them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(error_pipe[0]);
        child_run(req, parent, error_pipe[1]);
    }
    int fork_error = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(error_pipe[1]);
    if (pid < 0) {
        close(error_pipe[0]);
        return fork_error;
    }

    /* EOF: execve succeeded and closed the pipe. A report: the child failed. */
    struct cs_spawn_failure report = {.step = CS_STEP_SETUP, .error = EIO, .detail = -1};
    ssize_t got;
    while ((got = read(error_pipe[0], &report, sizeof report)) < 0 && errno == EINTR) {}
    close(error_pipe[0]);
    if (got == 0) {
        *out_pid = pid;
        return 0;
    }
    /* Reap it here so a failed exec leaves no zombie for the master. */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    if (report.error == 0) report.error = EIO;
    *failure = report;
    return report.error;
}

/* ---- signalfd ---- */

int cs_signalfd_create(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int cs_signalfd_next(int fd) {
    struct signalfd_siginfo info;
    ssize_t got;
    while ((got = read(fd, &info, sizeof info)) < 0 && errno == EINTR) {}
    if (got < 0) return errno == EAGAIN ? 0 : -1;
    return (int)info.ssi_signo;
}

/* ---- epoll (struct epoll_event is packed on x86_64, so Swift never sees it) ---- */

int cs_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int cs_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event event = {.events = events, .data.u64 = token};
    return epoll_ctl(epfd, op, fd, &event);
}

int cs_epoll_wait(int epfd, struct cs_poll_event *out, int max, int timeout_ms) {
    struct epoll_event events[256];
    int ready = epoll_wait(epfd, events, max < 256 ? max : 256, timeout_ms);
    for (int i = 0; i < ready; i++) {
        out[i].events = events[i].events;
        out[i].token = events[i].data.u64;
    }
    return ready;
}

/* ---- timerfd ---- */

int cs_timerfd_create(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); }

int cs_timerfd_arm(int fd, uint64_t at_ns) {
    if (at_ns == 0) at_ns = 1; /* an all-zero value would disarm */
    struct itimerspec spec = {.it_value = {.tv_sec = (time_t)(at_ns / 1000000000u), .tv_nsec = (long)(at_ns % 1000000000u)}};
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

int cs_timerfd_disarm(int fd) {
    struct itimerspec spec = {0};
    return timerfd_settime(fd, 0, &spec, NULL);
}

int cs_timerfd_acknowledge(int fd) {
    uint64_t expirations;
    ssize_t got;
    while ((got = read(fd, &expirations, sizeof expirations)) < 0 && errno == EINTR) {}
    if (got < 0) return errno == EAGAIN ? 0 : -1;
    return expirations > 0;
}

/* ---- processes ---- */

int cs_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1); }

/* ---- sockets ---- */

int cs_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid) {
    struct ucred cred;
    socklen_t length = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return -1;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

int cs_set_pass_credentials(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
}

ssize_t cs_recv_with_credentials(int fd, void *buf, size_t len, pid_t *pid, uid_t *uid, int *truncated) {
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(16 * sizeof(int))];
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes};
    ssize_t got;
    while ((got = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {}
    if (got < 0) return -1;
    *pid = 0;
    *uid = (uid_t)-1;
    *truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof cred);
            *pid = cred.pid;
            *uid = cred.uid;
        } else if (c->cmsg_type == SCM_RIGHTS) {
            /* Nobody asked for them: close what a sender slipped in. */
            size_t fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < fds; i++) {
                int passed;
                memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
                close(passed);
            }
        }
    }
    return got;
}

int cs_accept(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }

int cs_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int cs_pipe_set_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }

ssize_t cs_splice_from_pipe(int pipe_fd, int out_fd, int64_t *offset, size_t length) {
    loff_t at = offset ? (loff_t)*offset : 0;
    ssize_t moved = splice(pipe_fd, NULL, out_fd, offset ? &at : NULL, length, SPLICE_F_MOVE);
    if (offset) *offset = (int64_t)at;
    return moved;
}

/* ---- sock_diag ---- */

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

_Static_assert(NLMSG_SPACE(sizeof(struct inet_diag_msg)) >= 64,
               "cs_sock_diag_receive_tcp promises length / 64 entries suffice");

int cs_sock_diag_open(void) { return socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG); }

int cs_sock_diag_request_tcp(int fd, int family, uint32_t states, uint32_t sequence) {
    struct {
        struct nlmsghdr header;
        struct inet_diag_req_v2 body;
    } request;
    memset(&request, 0, sizeof request);
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.header.nlmsg_seq = sequence;
    request.body.sdiag_family = (uint8_t)family;
    request.body.sdiag_protocol = IPPROTO_TCP;
    request.body.idiag_states = states;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    ssize_t sent;
    while ((sent = sendto(fd, &request, sizeof request, 0, (struct sockaddr *)&kernel, sizeof kernel)) < 0
           && errno == EINTR) {}
    return sent < 0 ? -1 : 0;
}

int cs_sock_diag_receive_tcp(int fd, void *buffer, size_t length, uint32_t sequence,
                             struct cs_tcp_socket *out, int capacity, int *done) {
    struct sockaddr_nl sender;
    struct iovec iov = {.iov_base = buffer, .iov_len = length};
    struct msghdr msg = {.msg_name = &sender, .msg_namelen = sizeof sender, .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t got;
    while ((got = recvmsg(fd, &msg, 0)) < 0 && errno == EINTR) {}
    if (got < 0) return -1;
    if (msg.msg_flags & MSG_TRUNC) {
        errno = EMSGSIZE;
        return -1;
    }
    *done = 0;
    int count = 0;
    int remaining = (int)got;
    for (struct nlmsghdr *header = buffer; NLMSG_OK(header, remaining); header = NLMSG_NEXT(header, remaining)) {
        if (header->nlmsg_seq != sequence) continue; /* a stray answer to an earlier, abandoned dump */
        if (header->nlmsg_type == NLMSG_DONE) {
            *done = 1;
            break;
        }
        if (header->nlmsg_type == NLMSG_ERROR) {
            const struct nlmsgerr *error = NLMSG_DATA(header);
            errno = header->nlmsg_len >= NLMSG_LENGTH(sizeof *error) && error->error < 0 ? -error->error : EPROTO;
            return -1;
        }
        if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
        if (header->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) continue;
        if (count == capacity) {
            errno = ENOBUFS;
            return -1;
        }
        const struct inet_diag_msg *diag = NLMSG_DATA(header);
        struct cs_tcp_socket *entry = &out[count++];
        entry->inode = diag->idiag_inode;
        entry->receive_queue = diag->idiag_rqueue;
        entry->send_queue = diag->idiag_wqueue;
        memcpy(entry->local_address, diag->id.idiag_src, 16);
        memcpy(entry->remote_address, diag->id.idiag_dst, 16);
        entry->local_port = ntohs(diag->id.idiag_sport);
        entry->remote_port = ntohs(diag->id.idiag_dport);
        entry->family = diag->idiag_family;
        entry->state = diag->idiag_state;
    }
    return count;
}

/* ---- directories ---- */

ssize_t cs_getdents64(int fd, void *buffer, size_t length) {
    long got;
    while ((got = syscall(SYS_getdents64, fd, buffer, length)) < 0 && errno == EINTR) {}
    return (ssize_t)got;
}
