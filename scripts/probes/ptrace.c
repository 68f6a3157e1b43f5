/* Test probe, built static into the test images: try to ptrace-attach to a pid.
 * Prints "ptrace: ok" or "ptrace: <strerror>" and exits 0 on success, 1 on failure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: ptrace-probe PID\n");
        return 2;
    }
    pid_t pid = (pid_t)atoi(argv[1]);
    if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) != 0) {
        printf("ptrace: %s\n", strerror(errno));
        return 1;
    }
    waitpid(pid, NULL, 0);
    ptrace(PTRACE_DETACH, pid, NULL, NULL);
    printf("ptrace: ok\n");
    return 0;
}
