#ifndef CSYSTEM_ORPHAN_GUARD_H
#define CSYSTEM_ORPHAN_GUARD_H

#include <stdint.h>
#include <sys/types.h>

/* Starts the orphan guard: a tiny process that outlives the master by a
   moment. The master writes each worker's process group to the returned fd
   (a close-on-exec pipe) as a positive int32 when it starts and as a negative
   one when it exits. When the pipe reaches end of file, which happens when
   the master exits in any way, SIGKILL included, the guard sends SIGKILL to
   every process group still listed and exits. PR_SET_PDEATHSIG reaches only
   direct children; this is what stops their own children from outliving the
   master. Returns the pipe's write end and stores the guard's pid, or -1
   with errno set. */
int cs_orphan_guard_start(pid_t *guard_pid);

/* Records a worker's process group (positive: started; negative: gone). */
int cs_orphan_guard_note(int fd, int32_t signed_pgid);

#endif
