/* Test probe, built static into the test images: open a raw ICMP socket (what ping needs
 * CAP_NET_RAW for). Prints "rawsock: ok" and exits 0, or "rawsock: <strerror>" and exits 1. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (fd < 0) {
        printf("rawsock: %s\n", strerror(errno));
        return 1;
    }
    close(fd);
    printf("rawsock: ok\n");
    return 0;
}
