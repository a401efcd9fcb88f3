#ifndef CSYSTEM_ORPHAN_GUARD_H
#define CSYSTEM_ORPHAN_GUARD_H

#include <stdint.h>
#include <sys/types.h>

/* Starts the orphan guard: a tiny process that outlives the master by a
   moment. Each worker's process group is written to the returned fd (a
   close-on-exec pipe) as a positive int32 when it starts, by the worker
   itself before it runs its program (cs_spawn's guard_fd), and as a
   negative one by the master once it is gone. When the pipe reaches end of
   file, which happens when the master exits in any way, SIGKILL included,
   the guard sends SIGKILL to every process group still listed and exits.
   PR_SET_PDEATHSIG reaches only direct children; this is what stops their
   own children from outliving the master. The guard keeps no other fd of
   the master's; 0..2 are /dev/null. Returns the pipe's write end
   (non-blocking) and stores the guard's pid, or -1 with errno set.
   `groups` (`count` of them, NULL for none) and `cgroup` (as in
   cs_orphan_guard_note_cgroup; NULL for none) are guarded from the guard's
   first instruction: a replacement guard started while workers run must not
   wait for notes the master may be killed before it writes. */
int cs_orphan_guard_start(pid_t *guard_pid, const int32_t *groups, int count, const char *cgroup);

/* Records a worker's process group (positive: started; negative: gone).
   The pipe's write end is non-blocking so that a guard that stopped reading
   (SIGSTOPped, say) can never block the master: once the pipe is full a
   note is dropped, returning -1 with EAGAIN (a 4-byte write is atomic, never
   half done). A dropped start leaves that group unguarded; a dropped exit
   leaves a stale group the guard may signal at the end. */
int cs_orphan_guard_note(int fd, int32_t signed_pgid);

/* The longest cgroup path the guard takes: a record fits in PIPE_BUF. */
enum { CS_ORPHAN_GUARD_CGROUP_MAX = 4000 };

/* Names the cgroup (v2) directory whose cgroup.kill the guard writes after
   SIGKILLing the process groups: appd's subtree of worker cgroups, so what
   left its process group with setsid dies too. A record 0, a length and
   the path, in one atomic write; a later call replaces the path. */
int cs_orphan_guard_note_cgroup(int fd, const char *path);

#endif
