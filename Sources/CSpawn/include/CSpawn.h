#ifndef CSPAWN_H
#define CSPAWN_H

#include <sys/types.h>

/// Starts `path` with `argv` and `envp` (NULL-terminated) in a new process group.
/// The child gets `stdin_fd`, `stdout_fd`, `stderr_fd` as 0, 1, 2 (-1 keeps the parent's), every other
/// descriptor closed, an empty signal mask and default signal dispositions, and `directory` (NULL: ours)
/// as its working directory. Returns 0 and sets `*pid`, or an errno value.
int cspawn_start(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                 int stdin_fd, int stdout_fd, int stderr_fd, const char *directory);

#endif
