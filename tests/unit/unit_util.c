#include "unit_util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

pid_t uu_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Reads the one-letter state of a thread from /proc, or 0 if unreadable. */
static char thread_state(pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may contain spaces or parentheses: skip past the
	 * last closing parenthesis. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	return p[2];
}

void uu_wait_blocked(pid_t tid)
{
	const struct timespec pause = {0, 200000};
	for (;;) {
		char s = thread_state(tid);
		ck_assert_msg(s != 0, "cannot read the state of thread %d",
		              (int)tid);
		if (s == 'S' || s == 'D')
			return;
		nanosleep(&pause, NULL);
	}
}

uint64_t uu_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x2545F4914F6CDD1Dull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}
