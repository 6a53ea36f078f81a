/*
 * nfq-impair: the network-fault lab's link impairment, in user space (this kernel has no tc netem).
 *
 * iptables sends each packet of one direction of a link to an NFQUEUE; this program holds every
 * packet of a queue for the queue's one-way delay, then accepts it, and drops a share of them
 * (independent per packet). Verdicts leave in arrival order: a packet is never released before one
 * that arrived earlier on the same queue, also when the delay changes while packets are held.
 *
 * Usage: nfq-impair [--maxlen N] [--seed S] QUEUE:DELAY_US:LOSS_PPM ...
 *   QUEUE     NFQUEUE number (in the namespace this runs in)
 *   DELAY_US  one-way delay in microseconds
 *   LOSS_PPM  share of packets dropped, in parts per million (10000 = 1 %)
 *   --maxlen  the kernel's queue bound per queue (default 10000): a packet arriving while N packets
 *             of that queue wait for their verdict is dropped by the kernel (tail drop, counted in
 *             the "overflow" statistic), as a router's full queue would drop it.
 *   --seed    seed of the loss decisions (default: from the clock), for reproducible runs.
 *   --no-realtime  stay a normal process. By default it asks for SCHED_FIFO (priority 1): its work
 *             per packet is tiny, but on a busy machine a normal process is woken late and every
 *             delay stretches by the scheduler's latency (tens of ms at a load of 6 per core).
 *
 * Commands on stdin, one per line; each gets one reply line on stdout:
 *   set QUEUE DELAY_US LOSS_PPM   -> ok
 *   stats                         -> one JSON object with per-queue counters
 * "ready" is printed once every queue is bound. EOF on stdin ends the program (its queues unbind;
 * the kernel drops what was still held).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <libnfnetlink/libnfnetlink.h>

#define MAX_QUEUES 16
#define RCVBUF_BYTES (32u * 1024u * 1024u)

struct held {
	uint32_t id;
	uint64_t due_ns;
};

struct queue {
	uint16_t num;
	struct nfq_q_handle *qh;
	uint64_t delay_ns;
	uint32_t loss_ppm;
	/* FIFO of held packets, in arrival (= id) order; due times never decrease along it. */
	struct held *ring;
	uint32_t cap, head, count;
	uint64_t last_due_ns;
	uint64_t received, passed, lost, ring_full;
};

static struct queue queues[MAX_QUEUES];
static int queue_count;
static uint64_t rng_state;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: small, fast and good enough for independent loss decisions. */
static uint64_t next_random(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void die(const char *what)
{
	fprintf(stderr, "nfq-impair: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct queue *find_queue(unsigned num)
{
	for (int i = 0; i < queue_count; i++)
		if (queues[i].num == num)
			return &queues[i];
	return NULL;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
	(void)msg;
	struct queue *q = data;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	if (!ph)
		return 0;
	uint32_t id = ntohl(ph->packet_id);
	q->received++;
	if (q->loss_ppm && next_random() % 1000000u < q->loss_ppm) {
		q->lost++;
		nfq_set_verdict(qh, id, NF_DROP, 0, NULL);
		return 0;
	}
	if (q->delay_ns == 0 && q->count == 0) {
		q->passed++;
		nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
		return 0;
	}
	if (q->count == q->cap) {
		/* Cannot happen while cap >= the kernel's maxlen; kept as a bound, not a crash. */
		q->ring_full++;
		nfq_set_verdict(qh, id, NF_DROP, 0, NULL);
		return 0;
	}
	uint64_t due = now_ns() + q->delay_ns;
	if (due < q->last_due_ns)
		due = q->last_due_ns;
	q->last_due_ns = due;
	q->ring[(q->head + q->count) % q->cap] = (struct held){ .id = id, .due_ns = due };
	q->count++;
	return 0;
}

/* Accepts every held packet that is due, with one batch verdict (all ids up to the last due one). */
static void release_due(struct queue *q, uint64_t now)
{
	uint32_t last = 0;
	uint32_t released = 0;
	while (q->count && q->ring[q->head].due_ns <= now) {
		last = q->ring[q->head].id;
		q->head = (q->head + 1) % q->cap;
		q->count--;
		released++;
	}
	if (released == 1)
		nfq_set_verdict(q->qh, last, NF_ACCEPT, 0, NULL);
	else if (released > 1)
		nfq_set_verdict_batch(q->qh, last, NF_ACCEPT);
	q->passed += released;
}

/* The kernel's own counters for a queue (/proc/net/netfilter/nfnetlink_queue of this namespace). */
static void kernel_counters(unsigned num, unsigned long *overflow, unsigned long *user_dropped)
{
	*overflow = *user_dropped = 0;
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	if (!f)
		return;
	unsigned qnum, copy_mode, one;
	unsigned long portid, total, copy_range, qdropped, udropped, idseq;
	while (fscanf(f, "%u %lu %lu %u %lu %lu %lu %lu %u", &qnum, &portid, &total, &copy_mode, &copy_range, &qdropped, &udropped, &idseq, &one) == 9) {
		if (qnum == num) {
			*overflow = qdropped;
			*user_dropped = udropped;
		}
	}
	fclose(f);
}

static void print_stats(void)
{
	printf("{\"queues\":[");
	for (int i = 0; i < queue_count; i++) {
		struct queue *q = &queues[i];
		unsigned long overflow, user_dropped;
		kernel_counters(q->num, &overflow, &user_dropped);
		printf("%s{\"queue\":%u,\"delayUs\":%" PRIu64 ",\"lossPpm\":%u,\"received\":%" PRIu64 ",\"passed\":%" PRIu64
		       ",\"lost\":%" PRIu64 ",\"held\":%u,\"overflow\":%lu,\"userDropped\":%lu,\"ringFull\":%" PRIu64 "}",
		       i ? "," : "", q->num, q->delay_ns / 1000, q->loss_ppm, q->received, q->passed, q->lost, q->count, overflow,
		       user_dropped, q->ring_full);
	}
	printf("]}\n");
}

static int parse_u64(const char *text, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text || *end)
		return -1;
	*out = v;
	return 0;
}

static int set_queue(struct queue *q, uint64_t delay_us, uint64_t loss_ppm)
{
	if (delay_us > 60ull * 1000000u || loss_ppm > 1000000u)
		return -1;
	q->delay_ns = delay_us * 1000u;
	q->loss_ppm = (uint32_t)loss_ppm;
	return 0;
}

/* One command line from stdin. */
static void command(char *line)
{
	char *words[5];
	int n = 0;
	for (char *w = strtok(line, " \t\r\n"); w && n < 5; w = strtok(NULL, " \t\r\n"))
		words[n++] = w;
	if (n == 1 && !strcmp(words[0], "stats")) {
		print_stats();
	} else if (n == 4 && !strcmp(words[0], "set")) {
		uint64_t num, delay_us, loss_ppm;
		struct queue *q = NULL;
		if (!parse_u64(words[1], &num))
			q = find_queue((unsigned)num);
		if (!q || parse_u64(words[2], &delay_us) || parse_u64(words[3], &loss_ppm) || set_queue(q, delay_us, loss_ppm))
			printf("error bad set command\n");
		else
			printf("ok\n");
	} else if (n > 0) {
		printf("error unknown command\n");
	}
	fflush(stdout);
}

static void read_stdin(void)
{
	static char buf[4096];
	static size_t used;
	ssize_t n = read(STDIN_FILENO, buf + used, sizeof buf - 1 - used);
	if (n <= 0)
		exit(0);
	used += (size_t)n;
	char *start = buf;
	char *nl;
	while ((nl = memchr(start, '\n', used - (size_t)(start - buf)))) {
		*nl = 0;
		command(start);
		start = nl + 1;
	}
	used -= (size_t)(start - buf);
	memmove(buf, start, used);
	if (used == sizeof buf - 1)
		used = 0; /* an over-long line: discard it */
}

static void add_queue_arg(const char *arg, uint32_t maxlen)
{
	uint64_t num, delay_us, loss_ppm;
	char copy[128];
	snprintf(copy, sizeof copy, "%s", arg);
	char *a = strtok(copy, ":"), *b = strtok(NULL, ":"), *c = strtok(NULL, ":");
	if (queue_count == MAX_QUEUES || !a || !b || !c || parse_u64(a, &num) || num > 65535 || parse_u64(b, &delay_us) ||
	    parse_u64(c, &loss_ppm) || find_queue((unsigned)num)) {
		fprintf(stderr, "nfq-impair: bad queue argument %s (QUEUE:DELAY_US:LOSS_PPM, at most %d distinct queues)\n", arg, MAX_QUEUES);
		exit(2);
	}
	struct queue *q = &queues[queue_count++];
	q->num = (uint16_t)num;
	if (set_queue(q, delay_us, loss_ppm)) {
		fprintf(stderr, "nfq-impair: delay at most 60 s, loss at most 1000000 ppm: %s\n", arg);
		exit(2);
	}
	q->cap = maxlen + 64;
	q->ring = calloc(q->cap, sizeof *q->ring);
	if (!q->ring)
		die("calloc");
}

int main(int argc, char **argv)
{
	uint64_t maxlen = 10000, seed = now_ns();
	int realtime = 1;
	const char *queue_args[MAX_QUEUES + 1];
	int nq = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--maxlen") && i + 1 < argc) {
			if (parse_u64(argv[++i], &maxlen) || maxlen < 1 || maxlen > 1000000) {
				fprintf(stderr, "nfq-impair: --maxlen must be 1..1000000\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (parse_u64(argv[++i], &seed)) {
				fprintf(stderr, "nfq-impair: --seed must be a number\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--no-realtime")) {
			realtime = 0;
		} else if (nq <= MAX_QUEUES) {
			queue_args[nq++] = argv[i];
		}
	}
	if (nq == 0) {
		fprintf(stderr, "usage: nfq-impair [--maxlen N] [--seed S] QUEUE:DELAY_US:LOSS_PPM ...\n");
		return 2;
	}
	for (int i = 0; i < nq; i++)
		add_queue_arg(queue_args[i], (uint32_t)maxlen);
	rng_state = seed;
	signal(SIGPIPE, SIG_IGN);
	/* Wake-ups as close to the due time as the scheduler allows. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	struct sched_param sp = { .sched_priority = 1 };
	if (realtime && sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
		fprintf(stderr, "nfq-impair: no SCHED_FIFO (%s): delays stretch when the machine is busy\n", strerror(errno));

	struct nfq_handle *h = nfq_open();
	if (!h)
		die("nfq_open");
	nfq_unbind_pf(h, AF_INET); /* no-ops on current kernels, needed on old ones */
	nfq_bind_pf(h, AF_INET);
	for (int i = 0; i < queue_count; i++) {
		struct queue *q = &queues[i];
		q->qh = nfq_create_queue(h, q->num, on_packet, q);
		if (!q->qh) {
			fprintf(stderr, "nfq-impair: cannot bind queue %u (already bound in this namespace?): %s\n", q->num, strerror(errno));
			return 1;
		}
		/* Metadata only: the verdict needs the packet id, never the bytes. */
		if (nfq_set_mode(q->qh, NFQNL_COPY_META, 0) < 0)
			die("nfq_set_mode");
		if (nfq_set_queue_maxlen(q->qh, (uint32_t)maxlen) < 0)
			die("nfq_set_queue_maxlen");
	}
	int fd = nfq_fd(h);
	nfnl_rcvbufsiz(nfq_nfnlh(h), RCVBUF_BYTES);
	int one = 1;
	/* A full socket buffer then drops the packet (counted as userDropped) instead of failing recv(). */
	setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
	printf("ready\n");
	fflush(stdout);

	static char buf[65536] __attribute__((aligned));
	struct pollfd fds[2] = { { .fd = fd, .events = POLLIN }, { .fd = STDIN_FILENO, .events = POLLIN } };
	for (;;) {
		uint64_t now = now_ns();
		uint64_t next = UINT64_MAX;
		for (int i = 0; i < queue_count; i++) {
			release_due(&queues[i], now);
			if (queues[i].count && queues[i].ring[queues[i].head].due_ns < next)
				next = queues[i].ring[queues[i].head].due_ns;
		}
		struct timespec timeout, *tp = NULL;
		if (next != UINT64_MAX) {
			uint64_t wait = next > now ? next - now : 0;
			timeout.tv_sec = (time_t)(wait / 1000000000u);
			timeout.tv_nsec = (long)(wait % 1000000000u);
			tp = &timeout;
		}
		if (ppoll(fds, 2, tp, NULL) < 0) {
			if (errno == EINTR)
				continue;
			die("ppoll");
		}
		if (fds[0].revents & (POLLIN | POLLERR)) {
			/* Drain what the kernel queued so far, without blocking. */
			for (int k = 0; k < 256; k++) {
				ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
				if (n < 0) {
					if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
						break;
					if (errno == ENOBUFS)
						continue;
					die("recv");
				}
				if (n == 0)
					break;
				nfq_handle_packet(h, buf, (int)n);
			}
		}
		if (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
			read_stdin();
	}
}
