// posix_spawn with the Linux extensions Swift's Glibc module does not import (they need _GNU_SOURCE).
#define _GNU_SOURCE
#include "CSpawn.h"

#include <signal.h>
#include <spawn.h>

static int redirect(posix_spawn_file_actions_t *actions, int fd, int target) {
    // dup2 onto itself would keep FD_CLOEXEC set; a descriptor already in place needs no action.
    if (fd < 0 || fd == target) return 0;
    return posix_spawn_file_actions_adddup2(actions, fd, target);
}

int cspawn_start(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                 int stdin_fd, int stdout_fd, int stderr_fd, const char *directory) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int error = posix_spawn_file_actions_init(&actions);
    if (error) return error;
    error = posix_spawnattr_init(&attributes);
    if (error) { posix_spawn_file_actions_destroy(&actions); return error; }

    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    // The kernel closes everything from 3 up in the child: no walk over /proc/self/fd in the parent, so
    // a process with thousands of sockets starts children as fast as one with three (and safely).
    if (!error) error = redirect(&actions, stdin_fd, 0);
    if (!error) error = redirect(&actions, stdout_fd, 1);
    if (!error) error = redirect(&actions, stderr_fd, 2);
    if (!error) error = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (!error && directory) error = posix_spawn_file_actions_addchdir_np(&actions, directory);
    if (!error) error = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                                                 | POSIX_SPAWN_SETSIGDEF);
    if (!error) error = posix_spawnattr_setpgroup(&attributes, 0);
    if (!error) error = posix_spawnattr_setsigmask(&attributes, &empty);
    if (!error) error = posix_spawnattr_setsigdefault(&attributes, &all);
    if (!error) error = posix_spawn(pid, path, &actions, &attributes, argv, envp);

    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return error;
}
