/*
 * loadgen: open-loop, constant-rate HTTP/1.1 load generator for loopback benchmarks.
 *
 * Request i is due at start + i/rate. Its latency runs from that due time (not from the
 * moment it was written) to the last byte of its response, so queueing inside the
 * generator counts (no coordinated omission). Single thread, non-blocking sockets, epoll,
 * keep-alive, one request in flight per connection, connections opened lazily up to
 * --connections. Requests are pre-built once; nothing is allocated per request.
 *
 * Loopback only: the host must be 127.0.0.0/8, ::1 or "localhost".
 * Build: bench/build-loadgen.sh   Usage: see usage() or bench/loadgen.md.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000LL
#define NS_PER_MS 1000000LL
#define BUFSZ 16384 /* per connection; a response head must fit */
#define MAX_CONNS 20000
#define SCAN_EVERY (50 * NS_PER_MS)
#define BACKOFF (10 * NS_PER_MS)
#define LATE_NS NS_PER_MS

/* ---- histogram: log-linear, microseconds, exact below 256 us, <= 1/128 relative error,
 * clamped at 60 s ---- */
#define SUB_BITS 7
#define SUB (1u << SUB_BITS)
#define HMAX_US 60000000ULL
#define NBUCKETS (2 * SUB + 18 * SUB) /* 60e6 < 2^26: exponents 1..18 */

static uint64_t hist[NBUCKETS];
static uint64_t hist_n, hist_sum_us, hist_max_ns;

static unsigned hidx(uint64_t v)
{
    if (v < 2 * SUB)
        return (unsigned)v;
    unsigned e = (unsigned)(63 - __builtin_clzll(v)) - SUB_BITS;
    return 2 * SUB + (e - 1) * SUB + (unsigned)((v >> e) - SUB);
}

static uint64_t hupper(unsigned i) /* highest value that lands in bucket i */
{
    if (i < 2 * SUB)
        return i;
    unsigned e = (i - 2 * SUB) / SUB + 1;
    uint64_t m = (i - 2 * SUB) % SUB + SUB;
    return ((m + 1) << e) - 1;
}

static void hrecord(int64_t ns)
{
    if (ns < 0)
        ns = 0;
    uint64_t us = (uint64_t)ns / 1000;
    if (us > HMAX_US)
        us = HMAX_US;
    hist[hidx(us)]++;
    hist_n++;
    hist_sum_us += us;
    if ((uint64_t)ns > hist_max_ns)
        hist_max_ns = (uint64_t)ns;
}

static double hpct_ms(double pct)
{
    if (!hist_n)
        return 0;
    uint64_t want = (uint64_t)(pct / 100.0 * (double)hist_n);
    if ((double)want < pct / 100.0 * (double)hist_n)
        want++;
    if (want < 1)
        want = 1;
    uint64_t cum = 0;
    for (unsigned i = 0; i < NBUCKETS; i++) {
        cum += hist[i];
        if (cum >= want) {
            double v = (double)hupper(i) / 1000.0;
            double mx = (double)hist_max_ns / 1e6;
            return v < mx ? v : mx;
        }
    }
    return (double)hist_max_ns / 1e6;
}

/* ---- configuration ---- */
static double rate = 0, duration = 0, warmup = 0, drain_s = 5, timeout_s = 10;
static int64_t tick_ns = 0;
static int maxconn = 64, json = 0, is_head = 0;
static const char *url, *body_file, *method;
static const char *headers[64];
static int nheaders;
static struct sockaddr_storage addr;
static socklen_t addrlen;
static char hostport[300], path[4096];

struct tmpl {
    char *data;
    uint32_t len;
};
static struct tmpl *tmpls;
static uint64_t ntmpl;

/* ---- connections ---- */
enum { C_FREE, C_CONNECTING, C_IDLE, C_BUSY };
enum { P_HEAD, P_BODY, P_CHUNK_SIZE, P_CHUNK_EXT, P_CHUNK_DATA, P_CHUNK_CRLF, P_TRAILER,
       P_UNTIL_CLOSE, P_DONE };
enum { E_CONNECT, E_READ, E_WRITE, E_TIMEOUT, E_PROTO, E_KINDS };
static const char *ekind[E_KINDS] = {"connect", "read", "write", "timeout", "protocol"};

struct conn {
    int fd, state, idle_pos, want_out;
    uint32_t gen;
    uint64_t req;
    int64_t due, sent, opened;
    const char *wbuf;
    uint32_t wlen, woff;
    uint32_t nreqs; /* responses completed on this connection */
    /* response parser */
    int pstate, status, close_after, got_any, digits;
    uint64_t remain;
    uint32_t blen, scanned, line_len;
    char *buf;
};
static struct conn *conns;
static int *freelist, nfree, *idle, nidle;
static int nopen, nconnecting, inflight, ep;
static uint64_t opened_total;

/* ---- schedule and statistics ---- */
static int64_t t_start, t_meas, t_end; /* t_end: scheduling stops */
static uint64_t total, warm_n, next_send, blocked_below;
static uint64_t ok_all;
static int blocked;
static int64_t backoff_until;
static int connect_failing; /* after a failed connect: one attempt at a time, BACKOFF apart */
static uint64_t *rq; /* retry queue (ring), at most maxconn entries */
static uint64_t rq_head, rq_len;

static uint64_t sent, completed, unsent, retried, late, queued_late, ok_in_window;
static uint64_t errors[E_KINDS], klass[6], codes[600];
static int64_t max_lag;
static volatile sig_atomic_t interrupted;
static int64_t real_minus_mono; /* converts the kernel's receive timestamps (CLOCK_REALTIME) */
static int nwriting;            /* connections waiting for EPOLLOUT to finish a request */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void sync_clocks(void)
{
    struct timespec r, m;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &r);
    real_minus_mono = ((int64_t)r.tv_sec - m.tv_sec) * NS_PER_S + (r.tv_nsec - m.tv_nsec);
}

static int64_t due_of(uint64_t i) { return t_start + (int64_t)((double)i * 1e9 / rate); }

static uint64_t due_count(int64_t now) /* how many requests are due by now */
{
    if (now < t_start)
        return 0;
    uint64_t n = (uint64_t)((double)(now - t_start) * rate / 1e9) + 1;
    return n < total ? n : total;
}

static void die(const char *msg)
{
    fprintf(stderr, "loadgen: %s\n", msg);
    exit(2);
}

static void count_error(int kind, int measured)
{
    if (measured)
        errors[kind]++;
}

static void ep_ctl(int op, struct conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events};
    ev.data.u64 = ((uint64_t)(c - conns) << 32) | c->gen;
    if (epoll_ctl(ep, op, c->fd, &ev) < 0) {
        perror("loadgen: epoll_ctl");
        exit(1);
    }
}

static void idle_push(struct conn *c)
{
    c->state = C_IDLE;
    c->idle_pos = nidle;
    idle[nidle++] = (int)(c - conns);
}

static void idle_remove(struct conn *c)
{
    int last = idle[--nidle];
    idle[c->idle_pos] = last;
    conns[last].idle_pos = c->idle_pos;
}

static void close_conn(struct conn *c, int reset)
{
    if (c->state == C_IDLE)
        idle_remove(c);
    else if (c->state == C_CONNECTING)
        nconnecting--;
    if (reset) {
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    if (c->want_out) {
        c->want_out = 0;
        nwriting--;
    }
    close(c->fd);
    c->fd = -1;
    c->state = C_FREE;
    c->gen++;
    nopen--;
    freelist[nfree++] = (int)(c - conns);
}

static int open_conn(int64_t now)
{
    if (!nfree)
        return -1;
    struct conn *c = &conns[freelist[--nfree]];
    c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        freelist[nfree++] = (int)(c - conns);
        count_error(E_CONNECT, now >= t_meas);
        backoff_until = now + BACKOFF;
        connect_failing = 1;
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    if (!c->buf && !(c->buf = malloc(BUFSZ)))
        die("out of memory");
    c->nreqs = 0;
    c->want_out = 0;
    c->opened = now;
    nopen++;
    opened_total++;
    if (connect(c->fd, (struct sockaddr *)&addr, addrlen) == 0) {
        connect_failing = 0;
        ep_ctl(EPOLL_CTL_ADD, c, EPOLLIN | EPOLLRDHUP);
        idle_push(c);
        return 0;
    }
    if (errno == EINPROGRESS) {
        c->state = C_CONNECTING;
        nconnecting++;
        ep_ctl(EPOLL_CTL_ADD, c, EPOLLOUT);
        return 0;
    }
    c->state = C_CONNECTING; /* so close_conn balances nconnecting */
    nconnecting++;
    close_conn(c, 1);
    count_error(E_CONNECT, now >= t_meas);
    backoff_until = now + BACKOFF;
    connect_failing = 1;
    return -1;
}

/* The request on c failed: retry it once if c was a reused keep-alive connection that the
 * server had already closed (nothing read yet), else count the error. */
static void fail_req(struct conn *c, int kind)
{
    int measured = c->req >= warm_n;
    if ((kind == E_READ || kind == E_WRITE) && c->nreqs > 0 && !c->got_any &&
        rq_len < (uint64_t)maxconn) {
        rq[(rq_head + rq_len++) % (uint64_t)maxconn] = c->req;
        if (measured)
            retried++;
    } else {
        count_error(kind, measured);
    }
    inflight--;
    close_conn(c, 1);
}

static void complete(struct conn *c, int64_t done)
{
    int st = c->status;
    if (c->req >= warm_n) {
        completed++;
        int k = (st >= 200 && st < 600) ? st / 100 : (st >= 100 && st < 200 ? 1 : 0);
        klass[k]++;
        codes[(st >= 100 && st < 600) ? st : 0]++;
        hrecord(done - c->due);
    }
    if (st >= 200 && st < 300 && done >= t_meas && done < t_end)
        ok_in_window++;
    if (st >= 200 && st < 300)
        ok_all++; /* warmup included: what the server accepted in all */
    c->nreqs++;
    inflight--;
    if (c->close_after) {
        close_conn(c, 0);
    } else {
        idle_push(c);
    }
}

/* returns -1 if the connection failed (and was closed), 0 otherwise */
static int do_write(struct conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n > 0) {
            c->woff += (uint32_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out) {
                ep_ctl(EPOLL_CTL_MOD, c, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
                c->want_out = 1;
                nwriting++;
            }
            return 0;
        } else {
            fail_req(c, E_WRITE);
            return -1;
        }
    }
    if (c->want_out) {
        ep_ctl(EPOLL_CTL_MOD, c, EPOLLIN | EPOLLRDHUP);
        c->want_out = 0;
        nwriting--;
    }
    return 0;
}

static void start_req(struct conn *c, uint64_t idx, int64_t now, int is_retry)
{
    struct tmpl *t = &tmpls[idx % ntmpl];
    c->req = idx;
    c->due = due_of(idx);
    c->sent = now;
    c->wbuf = t->data;
    c->wlen = t->len;
    c->woff = 0;
    c->state = C_BUSY;
    c->pstate = P_HEAD;
    c->blen = c->scanned = 0;
    c->got_any = c->close_after = 0;
    inflight++;
    if (idx >= warm_n && !is_retry) {
        int64_t lag = now - c->due;
        sent++;
        if (idx < blocked_below) {
            if (lag > LATE_NS)
                queued_late++;
        } else {
            if (lag > LATE_NS)
                late++;
            if (lag > max_lag)
                max_lag = lag;
        }
    }
    do_write(c);
}

static void dispatch(void)
{
    blocked = 0;
    for (;;) {
        int64_t now = now_ns();
        uint64_t idx;
        int is_retry;
        if (rq_len) {
            idx = rq[rq_head];
            is_retry = 1;
        } else if (next_send < total && due_of(next_send) <= now) {
            idx = next_send;
            is_retry = 0;
        } else {
            return;
        }
        if (!nidle) {
            uint64_t dc = due_count(now);
            uint64_t pending = rq_len + (dc > next_send ? dc - next_send : 0);
            if (connect_failing && pending > 1)
                pending = 1;
            while (!nidle && nopen < maxconn && (uint64_t)nconnecting < pending &&
                   now >= backoff_until)
                if (open_conn(now) < 0)
                    break;
            if (!nidle) {
                blocked = 1;
                if (dc > blocked_below)
                    blocked_below = dc;
                return;
            }
        }
        struct conn *c = &conns[idle[--nidle]];
        if (is_retry) {
            rq_head = (rq_head + 1) % (uint64_t)maxconn;
            rq_len--;
        } else {
            next_send++;
        }
        start_req(c, idx, now, is_retry);
    }
}

/* ---- response parsing ---- */
static int ci_contains(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++)
        if (strncasecmp(s + i, word, w) == 0)
            return 1;
    return 0;
}

/* -1 malformed, 1 interim (1xx), 0 final: sets pstate for the body */
static int parse_head(struct conn *c, const char *h, size_t len)
{
    if (len < 16 || memcmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ')
        return -1;
    if (h[9] < '0' || h[9] > '9' || h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9')
        return -1;
    int status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    int keepalive = h[7] == '1';
    int chunked = 0;
    int64_t cl = -1;
    const char *p = memchr(h, '\n', len), *end = h + len;
    while (p && ++p < end) {
        const char *le = memchr(p, '\n', (size_t)(end - p));
        if (!le)
            break;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon) {
            size_t nl = (size_t)(colon - p);
            const char *v = colon + 1, *ve = le;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            size_t vl = (size_t)(ve - v);
            if (nl == 14 && strncasecmp(p, "content-length", 14) == 0) {
                cl = 0;
                if (vl == 0)
                    return -1;
                for (const char *q = v; q < ve; q++) {
                    if (*q < '0' || *q > '9' || cl > (INT64_MAX - 9) / 10)
                        return -1;
                    cl = cl * 10 + (*q - '0');
                }
            } else if (nl == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
                if (ci_contains(v, vl, "chunked"))
                    chunked = 1;
            } else if (nl == 10 && strncasecmp(p, "connection", 10) == 0) {
                if (ci_contains(v, vl, "close"))
                    keepalive = 0;
                else if (ci_contains(v, vl, "keep-alive"))
                    keepalive = 1;
            }
        }
        p = le;
    }
    if (status >= 100 && status < 200) {
        if (status == 101)
            return -1; /* no upgrades */
        return 1;
    }
    c->status = status;
    c->close_after = !keepalive;
    if (is_head || status == 204 || status == 304) {
        c->pstate = P_DONE;
    } else if (chunked) {
        c->pstate = P_CHUNK_SIZE;
        c->remain = 0;
        c->digits = 0;
    } else if (cl >= 0) {
        c->remain = (uint64_t)cl;
        c->pstate = cl ? P_BODY : P_DONE;
    } else {
        c->pstate = P_UNTIL_CLOSE;
        c->close_after = 1;
    }
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Skips body bytes; -1 malformed, 1 response complete (*used = bytes consumed), 0 more. */
static int body_feed(struct conn *c, const char *p, size_t n, size_t *used)
{
    size_t i = 0;
    while (i < n) {
        switch (c->pstate) {
        case P_BODY:
        case P_CHUNK_DATA: {
            size_t take = n - i;
            if (take > c->remain)
                take = (size_t)c->remain;
            c->remain -= take;
            i += take;
            if (!c->remain) {
                if (c->pstate == P_BODY) {
                    *used = i;
                    return 1;
                }
                c->pstate = P_CHUNK_CRLF;
            }
            break;
        }
        case P_UNTIL_CLOSE:
            i = n;
            break;
        case P_CHUNK_SIZE:
        case P_CHUNK_EXT: {
            char ch = p[i++];
            int d = c->pstate == P_CHUNK_SIZE ? hexval(ch) : -1;
            if (d >= 0) {
                if (c->remain >> 56)
                    return -1;
                c->remain = c->remain * 16 + (uint64_t)d;
                c->digits = 1;
            } else if (ch == '\n') {
                if (!c->digits)
                    return -1;
                if (c->remain) {
                    c->pstate = P_CHUNK_DATA;
                } else {
                    c->pstate = P_TRAILER;
                    c->line_len = 0;
                }
            } else if (ch == '\r' || c->pstate == P_CHUNK_EXT) {
                /* end of line or chunk extension: skip */
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                c->pstate = P_CHUNK_EXT;
            } else {
                return -1;
            }
            break;
        }
        case P_CHUNK_CRLF: {
            char ch = p[i++];
            if (ch == '\n') {
                c->pstate = P_CHUNK_SIZE;
                c->remain = 0;
                c->digits = 0;
            } else if (ch != '\r') {
                return -1;
            }
            break;
        }
        case P_TRAILER: {
            char ch = p[i++];
            if (ch == '\n') {
                if (!c->line_len) {
                    *used = i;
                    return 1;
                }
                c->line_len = 0;
            } else if (ch != '\r') {
                c->line_len++;
            }
            break;
        }
        default:
            return -1;
        }
    }
    *used = i;
    return 0;
}

/* n new bytes are at c->buf + c->blen. -1: failed and closed, 1: response complete. */
static int feed(struct conn *c, size_t n, int64_t done)
{
    char *p = c->buf;
    size_t avail = c->blen + n, used = 0;
    while (c->pstate == P_HEAD) {
        size_t from = c->scanned > 3 ? c->scanned - 3 : 0;
        char *e = memmem(p + from, avail - from, "\r\n\r\n", 4);
        if (!e) {
            if (p != c->buf)
                memmove(c->buf, p, avail);
            c->blen = c->scanned = (uint32_t)avail;
            if (avail >= BUFSZ) {
                fail_req(c, E_PROTO);
                return -1;
            }
            return 0;
        }
        size_t hlen = (size_t)(e - p) + 4;
        int r = parse_head(c, p, hlen);
        if (r < 0) {
            fail_req(c, E_PROTO);
            return -1;
        }
        p += hlen;
        avail -= hlen;
        c->scanned = 0;
    }
    c->blen = 0;
    if (c->pstate != P_DONE) {
        int r = body_feed(c, p, avail, &used);
        if (r < 0) {
            fail_req(c, E_PROTO);
            return -1;
        }
        if (r == 0)
            return 0;
    }
    if (avail > used) /* bytes nobody asked for: the stream is out of step */
        c->close_after = 1;
    complete(c, done);
    return 1;
}

/* When the last bytes read arrived: the kernel's receive timestamp, so that a response
 * read late (the loop sleeps until the next send is due) still gets its true latency. */
static int64_t arrival(struct msghdr *m, struct conn *c, int64_t now)
{
    int64_t t = now;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            t = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec - real_minus_mono;
        }
    }
    if (t > now)
        t = now;
    if (t < c->sent)
        t = c->sent;
    return t;
}

static void on_busy_readable(struct conn *c, int64_t now)
{
    for (;;) {
        size_t room = BUFSZ - c->blen;
        union {
            char buf[CMSG_SPACE(sizeof(struct timespec)) * 2];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {.iov_base = c->buf + c->blen, .iov_len = room};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                           .msg_controllen = sizeof ctl.buf};
        ssize_t n = recvmsg(c->fd, &m, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                fail_req(c, E_READ);
            return;
        }
        if (n == 0) {
            if (c->pstate == P_UNTIL_CLOSE)
                complete(c, arrival(&m, c, now));
            else
                fail_req(c, E_READ);
            return;
        }
        c->got_any = 1;
        if (feed(c, (size_t)n, arrival(&m, c, now)) != 0 || (size_t)n < room)
            return;
    }
}

static void on_event(uint64_t data, uint32_t ev, int64_t now)
{
    struct conn *c = &conns[data >> 32];
    if (c->gen != (uint32_t)data || c->state == C_FREE)
        return; /* stale event for a connection closed earlier in this batch */
    switch (c->state) {
    case C_CONNECTING: {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err ||
            (ev & (EPOLLERR | EPOLLHUP))) {
            close_conn(c, 1);
            count_error(E_CONNECT, now >= t_meas);
            backoff_until = now + BACKOFF;
            connect_failing = 1;
            return;
        }
        nconnecting--;
        connect_failing = 0;
        ep_ctl(EPOLL_CTL_MOD, c, EPOLLIN | EPOLLRDHUP);
        idle_push(c);
        return;
    }
    case C_IDLE: { /* the server closed a keep-alive connection, or sent junk */
        char tmp[256];
        ssize_t n = recv(c->fd, tmp, sizeof tmp, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n > 0)
            count_error(E_PROTO, now >= t_meas);
        close_conn(c, n > 0);
        return;
    }
    case C_BUSY:
        if ((ev & EPOLLOUT) && c->woff < c->wlen && do_write(c) < 0)
            return;
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            on_busy_readable(c, now);
            /* the server closed after answering: don't reuse the connection */
            if (c->gen == (uint32_t)data && c->state == C_IDLE && (ev & (EPOLLRDHUP | EPOLLHUP)))
                close_conn(c, 0);
        }
        return;
    }
}

static void scan_timeouts(int64_t now)
{
    int64_t limit = (int64_t)(timeout_s * 1e9);
    for (int i = 0; i < maxconn; i++) {
        struct conn *c = &conns[i];
        if (c->state == C_BUSY && now - c->sent > limit) {
            fail_req(c, E_TIMEOUT);
        } else if (c->state == C_CONNECTING && now - c->opened > limit) {
            close_conn(c, 1);
            count_error(E_CONNECT, now >= t_meas);
            backoff_until = now + BACKOFF;
            connect_failing = 1;
        }
    }
}

/* ---- set-up ---- */
static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --url http://127.0.0.1:8000/api/event --rate REQ_PER_S --duration S\n"
            "               [--connections 64] [--body-file FILE] [--header 'Name: value']...\n"
            "               [--warmup 0] [--method POST|GET|...] [--timeout 10] [--drain 5] [--json]\n"
            "  --body-file: one request body per line, cycled; 'UA<TAB>BODY' also sends\n"
            "               'User-Agent: UA'. Without it: GET with no body.\n"
            "  Loopback only (127.0.0.0/8, ::1, localhost).\n");
    exit(2);
}

static void parse_url(void)
{
    if (strncmp(url, "http://", 7) != 0)
        die("only http:// URLs are supported");
    const char *hp = url + 7, *slash = strchr(hp, '/');
    size_t hpl = slash ? (size_t)(slash - hp) : strlen(hp);
    if (hpl == 0 || hpl >= sizeof hostport)
        die("bad host in --url");
    memcpy(hostport, hp, hpl);
    hostport[hpl] = 0;
    snprintf(path, sizeof path, "%s", slash ? slash : "/");
    char *hash = strchr(path, '#');
    if (hash)
        *hash = 0;

    char host[300];
    const char *portstr = NULL;
    if (hostport[0] == '[') {
        char *rb = strchr(hostport, ']');
        if (!rb)
            die("bad IPv6 host in --url");
        size_t l = (size_t)(rb - hostport - 1);
        memcpy(host, hostport + 1, l);
        host[l] = 0;
        if (rb[1] == ':')
            portstr = rb + 2;
        else if (rb[1])
            die("bad host in --url");
    } else {
        char *colon = strchr(hostport, ':');
        size_t l = colon ? (size_t)(colon - hostport) : strlen(hostport);
        memcpy(host, hostport, l);
        host[l] = 0;
        if (colon)
            portstr = colon + 1;
    }
    long port = 80;
    if (portstr) {
        char *e;
        port = strtol(portstr, &e, 10);
        if (*e || port < 1 || port > 65535)
            die("bad port in --url");
    }
    memset(&addr, 0, sizeof addr);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
    if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0) {
        a4->sin_family = AF_INET;
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
            die("refusing a non-loopback host: only 127.0.0.0/8, ::1 and localhost are allowed");
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
            die("refusing a non-loopback host: only 127.0.0.0/8, ::1 and localhost are allowed");
    } else {
        die("refusing host: only 127.0.0.0/8, ::1 and localhost are allowed (no DNS)");
    }
    if (addr.ss_family == AF_INET) {
        a4->sin_port = htons((uint16_t)port);
        addrlen = sizeof *a4;
    } else {
        a6->sin6_port = htons((uint16_t)port);
        addrlen = sizeof *a6;
    }
}

static void add_tmpl(const char *ua, size_t ual, const char *body, size_t bl, int has_body)
{
    size_t cap = strlen(method) + strlen(path) + strlen(hostport) + ual + bl + 128;
    for (int i = 0; i < nheaders; i++)
        cap += strlen(headers[i]) + 2;
    char *d = malloc(cap), *w = d;
    if (!d)
        die("out of memory");
    w += sprintf(w, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, hostport);
    for (int i = 0; i < nheaders; i++) {
        if (ual && strncasecmp(headers[i], "user-agent:", 11) == 0)
            continue; /* the line's own user agent wins */
        w += sprintf(w, "%s\r\n", headers[i]);
    }
    if (ual) {
        memcpy(w, "User-Agent: ", 12);
        memcpy(w + 12, ua, ual);
        memcpy(w + 12 + ual, "\r\n", 2);
        w += 14 + ual;
    }
    if (has_body)
        w += sprintf(w, "Content-Length: %zu\r\n", bl);
    memcpy(w, "\r\n", 2);
    w += 2;
    memcpy(w, body, bl);
    w += bl;
    if ((uint64_t)(w - d) > UINT32_MAX)
        die("request too large");
    tmpls = realloc(tmpls, (ntmpl + 1) * sizeof *tmpls);
    if (!tmpls)
        die("out of memory");
    tmpls[ntmpl].data = d;
    tmpls[ntmpl].len = (uint32_t)(w - d);
    ntmpl++;
}

static void build_requests(void)
{
    if (!body_file) {
        add_tmpl(NULL, 0, "", 0, 0);
        return;
    }
    FILE *f = fopen(body_file, "rb");
    if (!f) {
        perror(body_file);
        exit(2);
    }
    size_t cap = 1 << 16, len = 0;
    char *all = malloc(cap);
    size_t n;
    while (all && (n = fread(all + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap)
            all = realloc(all, cap *= 2);
    }
    if (!all)
        die("out of memory");
    fclose(f);
    char *p = all, *end = all + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        char *ce = le;
        if (ce > p && ce[-1] == '\r')
            ce--;
        if (ce > p) {
            char *tab = memchr(p, '\t', (size_t)(ce - p));
            if (tab)
                add_tmpl(p, (size_t)(tab - p), tab + 1, (size_t)(ce - tab - 1), 1);
            else
                add_tmpl(NULL, 0, p, (size_t)(ce - p), 1);
        }
        p = le + 1;
    }
    free(all);
    if (!ntmpl)
        die("--body-file has no non-empty line");
}

static double num_arg(const char *s, const char *name)
{
    char *e;
    double v = strtod(s, &e);
    if (*e || v != v) {
        fprintf(stderr, "loadgen: bad number for %s: %s\n", name, s);
        exit(2);
    }
    return v;
}

static void on_sigint(int sig)
{
    (void)sig;
    interrupted++;
}

/* ---- report ---- */
static void report(int64_t meas_ns, double cpu_s, double wall_s)
{
    double meas_s = (double)meas_ns / 1e9;
    double achieved = meas_s > 0 ? (double)ok_in_window / meas_s : 0;
    uint64_t errs = 0;
    for (int k = 0; k < E_KINDS; k++)
        errs += errors[k];
    double p50 = hpct_ms(50), p90 = hpct_ms(90), p99 = hpct_ms(99), p999 = hpct_ms(99.9);
    double mx = (double)hist_max_ns / 1e6;
    double mean = hist_n ? (double)hist_sum_us / (double)hist_n / 1000.0 : 0;
    uint64_t scheduled = total > warm_n ? total - warm_n : 0;
    FILE *h = json ? stderr : stdout;

    fprintf(h, "target rate    %.1f req/s  (warmup %.1f s, measured %.2f s, connections %d max, %llu opened)\n",
            rate, warmup, meas_s, maxconn, (unsigned long long)opened_total);
    fprintf(h, "achieved rate  %.1f req/s  (2xx responses completed in the measured window)\n", achieved);
    fprintf(h, "requests       scheduled %llu, sent %llu, completed %llu, errors %llu\n",
            (unsigned long long)scheduled, (unsigned long long)sent,
            (unsigned long long)completed, (unsigned long long)errs);
    fprintf(h, "status         2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu, other %llu\n",
            (unsigned long long)klass[2], (unsigned long long)klass[3],
            (unsigned long long)klass[4], (unsigned long long)klass[5],
            (unsigned long long)(klass[0] + klass[1]));
    int any = 0;
    for (int s = 0; s < 600; s++) {
        if (codes[s] && (s < 200 || s >= 300)) {
            fprintf(h, "%s%d: %llu", any ? ", " : "non-2xx        ", s, (unsigned long long)codes[s]);
            any = 1;
        }
    }
    if (any)
        fprintf(h, "\n");
    fprintf(h, "errors         connect %llu, read %llu, write %llu, timeout %llu (never sent %llu), protocol %llu; retried on a stale keep-alive %llu\n",
            (unsigned long long)errors[E_CONNECT], (unsigned long long)errors[E_READ],
            (unsigned long long)errors[E_WRITE], (unsigned long long)errors[E_TIMEOUT],
            (unsigned long long)unsent, (unsigned long long)errors[E_PROTO],
            (unsigned long long)retried);
    fprintf(h, "latency ms     p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f  (from scheduled time, %llu responses)\n",
            p50, p90, p99, p999, mx, mean, (unsigned long long)hist_n);
    fprintf(h, "late starts    %llu sent > 1 ms late with a connection free (generator saturation), max lag %.3f ms\n",
            (unsigned long long)late, (double)max_lag / 1e6);
    fprintf(h, "queued         %llu sent > 1 ms late after waiting for a connection (server saturation)\n",
            (unsigned long long)queued_late);
    fprintf(h, "generator cpu  %.2f s (%.1f%% of one core over %.1f s)\n", cpu_s,
            wall_s > 0 ? 100.0 * cpu_s / wall_s : 0, wall_s);
    if (wall_s > 0 && cpu_s / wall_s > 0.85)
        fprintf(h, "warning        the generator was nearly CPU-bound: it may be what limited the rate\n");
    if (errs > errors[E_CONNECT])
        fprintf(h, "warning        %llu requests failed; their latencies are not in the percentiles\n",
                (unsigned long long)(errs - errors[E_CONNECT]));
    if (!json)
        return;
    printf("{\"accepted_2xx_all\":%llu,", (unsigned long long)ok_all);
    printf("\"target_rate\":%.3f,\"achieved_rate\":%.3f,\"warmup_s\":%.3f,\"duration_s\":%.3f,"
           "\"connections_max\":%d,\"connections_opened\":%llu,\"scheduled\":%llu,\"sent\":%llu,"
           "\"completed\":%llu,\"errors_total\":%llu,\"status\":{\"2xx\":%llu,\"3xx\":%llu,"
           "\"4xx\":%llu,\"5xx\":%llu,\"other\":%llu},\"non_2xx\":{",
           rate, achieved, warmup, meas_s, maxconn, (unsigned long long)opened_total,
           (unsigned long long)scheduled, (unsigned long long)sent,
           (unsigned long long)completed, (unsigned long long)errs,
           (unsigned long long)klass[2], (unsigned long long)klass[3],
           (unsigned long long)klass[4], (unsigned long long)klass[5],
           (unsigned long long)(klass[0] + klass[1]));
    any = 0;
    for (int s = 0; s < 600; s++) {
        if (codes[s] && (s < 200 || s >= 300)) {
            printf("%s\"%d\":%llu", any ? "," : "", s, (unsigned long long)codes[s]);
            any = 1;
        }
    }
    printf("},\"errors\":{");
    for (int k = 0; k < E_KINDS; k++)
        printf("%s\"%s\":%llu", k ? "," : "", ekind[k], (unsigned long long)errors[k]);
    printf("},\"unsent\":%llu,\"retried\":%llu,\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,"
           "\"p99\":%.3f,\"p99_9\":%.3f,\"max\":%.3f,\"mean\":%.3f},\"late_starts_gt_1ms\":%llu,"
           "\"max_start_lag_ms\":%.3f,\"queued_gt_1ms\":%llu,\"cpu_s\":%.3f,\"cpu_pct\":%.1f}\n",
           (unsigned long long)unsent, (unsigned long long)retried, p50, p90, p99, p999, mx, mean,
           (unsigned long long)late, (double)max_lag / 1e6, (unsigned long long)queued_late,
           cpu_s, wall_s > 0 ? 100.0 * cpu_s / wall_s : 0);
}

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t ceil_u64(double x)
{
    uint64_t c = (uint64_t)x;
    return (double)c < x ? c + 1 : c;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            usage();
        if (i + 1 >= argc) {
            fprintf(stderr, "loadgen: %s needs a value\n", a);
            usage();
        }
        const char *v = argv[++i];
        if (strcmp(a, "--url") == 0)
            url = v;
        else if (strcmp(a, "--rate") == 0)
            rate = num_arg(v, a);
        else if (strcmp(a, "--duration") == 0)
            duration = num_arg(v, a);
        else if (strcmp(a, "--warmup") == 0)
            warmup = num_arg(v, a);
        else if (strcmp(a, "--connections") == 0)
            maxconn = (int)num_arg(v, a);
        else if (strcmp(a, "--body-file") == 0)
            body_file = v;
        else if (strcmp(a, "--method") == 0)
            method = v;
        else if (strcmp(a, "--timeout") == 0)
            timeout_s = num_arg(v, a);
        else if (strcmp(a, "--drain") == 0)
            drain_s = num_arg(v, a);
        else if (strcmp(a, "--tick-us") == 0)
            tick_ns = (int64_t)(num_arg(v, a) * 1000);
        else if (strcmp(a, "--header") == 0) {
            if (nheaders == (int)(sizeof headers / sizeof *headers))
                die("too many --header options");
            if (strpbrk(v, "\r\n") || !strchr(v, ':'))
                die("--header must be 'Name: value' on one line");
            if (strncasecmp(v, "host:", 5) == 0 || strncasecmp(v, "content-length:", 15) == 0)
                die("--header: Host and Content-Length are set by loadgen");
            headers[nheaders++] = v;
        } else {
            fprintf(stderr, "loadgen: unknown option %s\n", a);
            usage();
        }
    }
    if (!url || rate <= 0 || duration <= 0)
        usage();
    if (warmup < 0 || drain_s < 0 || timeout_s <= 0 || maxconn < 1 || maxconn > MAX_CONNS ||
        tick_ns < 0 || tick_ns > NS_PER_S)
        die("bad --warmup, --drain, --timeout, --tick-us or --connections (1..20000)");
    if (!method)
        method = body_file ? "POST" : "GET";
    if (strpbrk(method, " \r\n"))
        die("bad --method");
    is_head = strcmp(method, "HEAD") == 0;
    parse_url();
    build_requests();

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)maxconn + 32) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)maxconn + 32 ? rl.rlim_max : (rlim_t)maxconn + 32;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)maxconn + 32)
            die("open-file limit too low for --connections");
    }
    conns = calloc((size_t)maxconn, sizeof *conns);
    freelist = malloc((size_t)maxconn * sizeof *freelist);
    idle = malloc((size_t)maxconn * sizeof *idle);
    rq = malloc((size_t)maxconn * sizeof *rq);
    if (!conns || !freelist || !idle || !rq)
        die("out of memory");
    for (int i = maxconn - 1; i >= 0; i--) {
        conns[i].fd = -1;
        freelist[nfree++] = i;
    }
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        perror("loadgen: epoll_create1");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    warm_n = ceil_u64(warmup * rate);
    total = ceil_u64((warmup + duration) * rate);
    double cpu0 = cpu_now();
    sync_clocks();
    t_start = now_ns() + NS_PER_MS;
    t_meas = t_start + (int64_t)(warmup * 1e9);
    t_end = t_start + (int64_t)((warmup + duration) * 1e9);
    int64_t drain_end = t_end + (int64_t)(drain_s * 1e9), last_scan = t_start;
    int use_pwait2 = 1, seen_int = 0, more = 0;
    struct epoll_event evs[512];

    for (;;) {
        dispatch();
        int64_t now = now_ns();
        if (interrupted && !seen_int) { /* stop scheduling now, then drain */
            seen_int = 1;
            if (now < t_end) {
                t_end = now > t_meas ? now : t_meas;
                drain_end = now + (int64_t)(drain_s * 1e9);
                uint64_t dc = due_count(now);
                if (dc < total)
                    total = dc > warm_n ? dc : warm_n;
            }
        }
        if (interrupted > 1)
            break;
        if (now >= t_end && next_send >= total && !rq_len && !inflight)
            break;
        if (now >= drain_end)
            break;
        int64_t wake = last_scan + SCAN_EVERY, next_due = -1;
        if (!blocked && !rq_len && next_send < total) {
            next_due = due_of(next_send);
            if (tick_ns > 0) /* wake on the tick grid: fewer wake-ups, sends up to a tick late */
                next_due = t_start + (next_due - t_start + tick_ns - 1) / tick_ns * tick_ns;
            if (next_due < wake)
                wake = next_due;
        }
        if (blocked && nopen < maxconn && backoff_until > now && backoff_until < wake)
            wake = backoff_until;
        if (now < t_end && t_end < wake)
            wake = t_end;
        if (drain_end < wake)
            wake = drain_end;
        int64_t tmo = wake > now ? wake - now : 0;
        int n;
        if (next_due >= 0 && !nwriting && now < t_end) {
            /* Only sends are due: sleep without watching the sockets. Responses that come
             * in meanwhile are read on waking, timed by their kernel arrival stamps. */
            if (tmo > 0 && !more) {
                struct timespec ts = {.tv_sec = wake / NS_PER_S, .tv_nsec = wake % NS_PER_S};
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
                       !interrupted)
                    ;
            }
            n = epoll_wait(ep, evs, 512, 0);
        } else if (use_pwait2) {
            struct timespec ts = {.tv_sec = tmo / NS_PER_S, .tv_nsec = tmo % NS_PER_S};
            n = epoll_pwait2(ep, evs, 512, &ts, NULL);
            if (n < 0 && errno == ENOSYS) {
                use_pwait2 = 0;
                continue;
            }
        } else {
            n = epoll_wait(ep, evs, 512, (int)((tmo + NS_PER_MS - 1) / NS_PER_MS));
        }
        if (n < 0 && errno != EINTR) {
            perror("loadgen: epoll_wait");
            return 1;
        }
        more = n == 512; /* more events may be waiting: don't sleep before reading them */
        now = now_ns();
        for (int i = 0; i < n; i++)
            on_event(evs[i].data.u64, evs[i].events, now);
        if (now - last_scan >= SCAN_EVERY) {
            scan_timeouts(now);
            sync_clocks();
            last_scan = now;
        }
    }

    /* what is still outstanding counts as timeouts */
    for (int i = 0; i < maxconn; i++) {
        if (conns[i].state == C_BUSY && conns[i].req >= warm_n)
            errors[E_TIMEOUT]++;
    }
    for (uint64_t k = 0; k < rq_len; k++) {
        if (rq[(rq_head + k) % (uint64_t)maxconn] >= warm_n) {
            errors[E_TIMEOUT]++;
            unsent++;
        }
    }
    uint64_t first = next_send > warm_n ? next_send : warm_n;
    if (total > first) {
        errors[E_TIMEOUT] += total - first;
        unsent += total - first;
    }
    int64_t t_stop = now_ns();
    double cpu = cpu_now() - cpu0;
    int64_t meas_end = t_end < t_stop ? t_end : t_stop;
    report(meas_end > t_meas ? meas_end - t_meas : 0, cpu, (double)(t_stop - t_start) / 1e9);
    return 0;
}
