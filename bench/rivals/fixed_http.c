/* The load generator's ceiling for bench/http_load.ts: a C epoll loop that answers every
 * request head ("\r\n\r\n") with the same fixed response and does nothing else. No parsing, no
 * routing, one read and one write per ready socket: whatever wrk measures against it is what
 * wrk itself can drive on its core, the most any server can show in that run.
 *   usage: fixed_http PORT   (127.0.0.1, TCP_NODELAY, SIGTERM exits) */
#define _GNU_SOURCE /* accept4 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESP[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n";
#define RLEN (sizeof RESP - 1)
#define MAXREQ 64

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 18080;
  signal(SIGPIPE, SIG_IGN);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1024) != 0) {
    perror("fixed_http: bind/listen");
    return 1;
  }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  static char out[RLEN * MAXREQ];
  for (int i = 0; i < MAXREQ; i++) memcpy(out + i * RLEN, RESP, RLEN);
  static char buf[65536];
  struct epoll_event evs[256];
  fprintf(stderr, "fixed_http: listening on 127.0.0.1:%d\n", port);
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        int c;
        while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) {
        close(fd);
        continue;
      }
      int k = 0;
      for (ssize_t j = 3; j < r; j++)
        if (buf[j] == '\n' && buf[j - 1] == '\r' && buf[j - 2] == '\n') k++;
      while (k > 0) {
        int m = k > MAXREQ ? MAXREQ : k;
        if (write(fd, out, RLEN * m) < 0) break;
        k -= m;
      }
    }
  }
}
