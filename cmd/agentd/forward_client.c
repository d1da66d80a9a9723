// The CLI side of forwarded runs (forward.go has the protocol and why):
// before Go starts, `agentd sandbox [flags] run ...` hands its run to a
// daemon that listens on the run socket, and exits with the code the daemon
// sends. When no daemon answers, or it declines, this returns and agentd
// runs as it always does. AGENTD_NO_FORWARD set to anything but the empty
// string turns forwarding off.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "forward_client.h"

#define FORWARD_MAGIC "agentd-run/2"
#define FORWARD_MAX_MSG (1 << 20)
// The daemon answers once it has parsed the command line: well under a
// millisecond when it is alive.
#define FORWARD_ANSWER_MS 3000

// forward_socket returns the API socket the command line names (the
// sandbox command's --socket, else $AGENTD_SOCKET, else the default), and
// sets *run to the index of "run"; NULL when this is not a sandbox run or
// the flags before "run" are not ones it knows.
static const char *forward_socket(int argc, char **argv, int *run)
{
	const char *sock = getenv("AGENTD_SOCKET");
	if (sock == NULL || *sock == '\0')
		sock = AGENTD_DEFAULT_SOCKET;
	if (argc < 3 || strcmp(argv[1], "sandbox") != 0)
		return NULL;
	int i = 2;
	while (i < argc && strcmp(argv[i], "run") != 0) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1] == '-')
			a++;
		if (strcmp(a, "-socket") == 0 && i + 1 < argc) {
			sock = argv[i + 1];
			i += 2;
		} else if (strncmp(a, "-socket=", 8) == 0) {
			sock = a + 8;
			i++;
		} else if (strcmp(a, "-state-dir") == 0 && i + 1 < argc) {
			i += 2;
		} else if (strncmp(a, "-state-dir=", 11) == 0 || strcmp(a, "-no-autostart") == 0) {
			i++;
		} else {
			return NULL;
		}
	}
	if (i >= argc)
		return NULL;
	*run = i;
	return sock;
}

// wants_forward: no spec file before "--" (the daemon declines those: the
// file is the CLI's to read), nor a terminal (the CLI asks the daemon's API
// for one). A shortcut that saves a round trip: the daemon decides.
static int wants_forward(int argc, char **argv, int run)
{
	for (int i = run + 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1] == '-')
			a++;
		if (strcmp(a, "-spec") == 0 || strncmp(a, "-spec=", 6) == 0 ||
		    strcmp(a, "-tty") == 0 || strcmp(a, "-t") == 0)
			return 0;
	}
	return 1;
}

// request builds the request packet; NULL if it would be too large. The
// daemon reads no environment for the CLI's flags: $AGENTD_SOCKET and
// $AGENTD_STATE_DIR go in as flags right after "sandbox", where flags
// given later still override them, as they override the variables.
static char *request(int argc, char **argv, size_t *len)
{
	const char *env[][2] = {{"--socket", getenv("AGENTD_SOCKET")}, {"--state-dir", getenv("AGENTD_STATE_DIR")}};
	const char *args[4];
	int nargs = 0;
	for (int i = 0; i < 2; i++) {
		if (env[i][1] != NULL && *env[i][1] != '\0') {
			args[nargs++] = env[i][0];
			args[nargs++] = env[i][1];
		}
	}
	char count[16];
	const char *tmpdir = getenv("TMPDIR");
	snprintf(count, sizeof(count), "%d", argc + nargs);
	const char *head[] = {FORWARD_MAGIC, tmpdir != NULL ? tmpdir : "", count};
	size_t n = 0;
	for (int i = 0; i < 3; i++)
		n += strlen(head[i]) + 1;
	for (int i = 0; i < nargs; i++)
		n += strlen(args[i]) + 1;
	for (int i = 0; i < argc; i++)
		n += strlen(argv[i]) + 1;
	if (n > FORWARD_MAX_MSG)
		return NULL;
	char *buf = malloc(n), *p = buf;
	if (buf == NULL)
		return NULL;
	for (int i = 0; i < 3; i++)
		p = stpcpy(p, head[i]) + 1;
	for (int i = 0; i < argc; i++) {
		p = stpcpy(p, argv[i]) + 1;
		if (i == 1) // "sandbox"
			for (int j = 0; j < nargs; j++)
				p = stpcpy(p, args[j]) + 1;
	}
	*len = n;
	return buf;
}

// send_request sends the request with stdin, stdout and stderr attached.
static int send_request(int sock, char *buf, size_t len)
{
	int fds[3] = {0, 1, 2};
	char control[CMSG_SPACE(sizeof(fds))];
	memset(control, 0, sizeof(control));
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	ssize_t n;
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

static ssize_t recv_packet(int sock, char *buf, size_t size)
{
	ssize_t n;
	do
		n = recv(sock, buf, size - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

// wait_answer waits for the daemon's first answer; 1 if it is "start". A
// signal before it ends the wait (0): the caller lets the signal act. So
// does a daemon that has not answered in FORWARD_ANSWER_MS (stopped, or
// wedged): the CLI runs the command itself, and closing the socket makes a
// late daemon kill what it started.
static int wait_answer(int sock, int sigfd)
{
	struct pollfd p[2] = {{.fd = sock, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
	char answer[64];
	for (;;) {
		int n = poll(p, 2, FORWARD_ANSWER_MS);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (p[1].revents)
			return 0;
		if (p[0].revents)
			return recv_packet(sock, answer, sizeof(answer)) > 0 && strcmp(answer, "start") == 0;
	}
}

// wait_exit relays the CLI's signals to the daemon until the daemon sends
// the exit code, and exits with it.
static void wait_exit(int sock, int sigfd, const char *path)
{
	struct pollfd p[2] = {{.fd = sock, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
	char buf[64];
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
				int n = snprintf(buf, sizeof(buf), "signal %u", si.ssi_signo);
				send(sock, buf, n, MSG_NOSIGNAL);
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv_packet(sock, buf, sizeof(buf));
			if (n > 5 && strncmp(buf, "exit ", 5) == 0)
				_exit(atoi(buf + 5));
			break;
		}
	}
	dprintf(2, "agentd: lost the daemon (%s) while the command ran\n", path);
	_exit(125);
}

__attribute__((constructor)) static void agentd_forward(int argc, char **argv)
{
	int run;
	const char *api = forward_socket(argc, argv, &run);
	const char *off = getenv("AGENTD_NO_FORWARD");
	if (api == NULL || api[0] != '/' || (off != NULL && *off != '\0') || !wants_forward(argc, argv, run))
		return;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (snprintf(addr.sun_path, sizeof(addr.sun_path), "%s.run", api) >= (int)sizeof(addr.sun_path))
		return;
	size_t len;
	char *buf = request(argc, argv, &len);
	if (buf == NULL)
		return;
	// The signals that end a run are taken through a signalfd from the
	// start. One that comes before the daemon's answer stays pending: the
	// CLI closes the socket (a run the daemon started is killed) and the
	// signal acts as it would have.
	// An ignored signal is left alone: pending, it would not end the CLI.
	sigset_t mask, old;
	sigemptyset(&mask);
	for (int sig = SIGHUP; sig <= SIGTERM; sig++) {
		struct sigaction sa;
		if ((sig == SIGHUP || sig == SIGINT || sig == SIGTERM) && sigaction(sig, NULL, &sa) == 0 &&
		    sa.sa_handler != SIG_IGN)
			sigaddset(&mask, sig);
	}
	sigprocmask(SIG_BLOCK, &mask, &old);
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sock >= 0 && sigfd >= 0 && connect(sock, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	    send_request(sock, buf, len) == 0 && wait_answer(sock, sigfd)) {
		free(buf);
		wait_exit(sock, sigfd, addr.sun_path);
	}
	// Not forwarded: nothing ran; agentd goes on as without a daemon.
	free(buf);
	if (sock >= 0)
		close(sock);
	if (sigfd >= 0)
		close(sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
}
