/*
 * npu-lab tool client, installed at each simulated tool's real path (hccn_tool, npu-smi,
 * efsmi, eccl_*_perf) in lab nodes.  It hands argv to the node's simulator daemon
 * (npu-lab-simd on 127.0.0.1:$NPU_LAB_SIM_PORT, default 7399) and replays the answer: the same
 * stdout, stderr and exit status as running lab/sim/npulab_sim.py directly, which it execs
 * when no daemon answers.  A static C binary because a tool call must cost far less CPU than
 * the latency it simulates when many nodes share few cores (a bash client cost ~2.5 ms).
 *
 * Request:  "KEY=VALUE\x1e...\n" then "tool\x1farg\x1farg...\n"
 * Response: "<rc> <stdout bytes> <stderr bytes>\n" then the bytes (FMT=bin in the request).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SIM "/usr/local/lib/npu-lab/npulab_sim.py"

static const char *FORWARD[] = {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMI_SIZE",
                                "PMI_RANK", NULL};

struct buf { char *p; size_t n, cap; };

static void put(struct buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) { perror("npu-lab client"); exit(70); }
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fallback(const char *tool, int argc, char **argv) {
    char **args = calloc((size_t)argc + 4, sizeof(char *));
    setenv("NPU_LAB_TOOL", tool, 1);
    args[0] = "python3";
    args[1] = "-SE";
    args[2] = SIM;
    for (int i = 1; i < argc; i++) args[i + 2] = argv[i];
    execv("/usr/bin/python3", args);
    fprintf(stderr, "npu-lab: no simulator daemon and cannot run %s\n", SIM);
    exit(127);
}

int main(int argc, char **argv) {
    const char *tool = getenv("NPU_LAB_TOOL");
    if (!tool || !*tool) {
        tool = strrchr(argv[0], '/');
        tool = tool ? tool + 1 : argv[0];
    }
    const char *port_s = getenv("NPU_LAB_SIM_PORT");
    int port = port_s && *port_s ? atoi(port_s) : 7399;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        fallback(tool, argc, argv);
    }
    struct buf req = {0};
    puts_(&req, "FMT=bin\x1eTTY=");
    puts_(&req, isatty(0) ? "1" : "0");
    for (int i = 0; FORWARD[i]; i++) {
        const char *v = getenv(FORWARD[i]);
        puts_(&req, "\x1e");
        puts_(&req, FORWARD[i]);
        puts_(&req, "=");
        puts_(&req, v ? v : "");
    }
    puts_(&req, "\n");
    puts_(&req, tool);
    for (int i = 1; i < argc; i++) {
        puts_(&req, "\x1f");
        puts_(&req, argv[i]);
    }
    puts_(&req, "\n");
    if (write_all(fd, req.p, req.n) != 0) {
        fprintf(stderr, "npu-lab: cannot send to the simulator daemon for %s\n", tool);
        return 70;
    }
    struct buf resp = {0};
    char chunk[65536];
    ssize_t r;
    while ((r = read(fd, chunk, sizeof chunk)) > 0) put(&resp, chunk, (size_t)r);
    close(fd);
    int rc;
    size_t lo, le;
    char *body = resp.p ? memchr(resp.p, '\n', resp.n) : NULL;
    if (!body || sscanf(resp.p, "%d %zu %zu", &rc, &lo, &le) != 3 ||
        (size_t)(resp.p + resp.n - (body + 1)) != lo + le) {
        fprintf(stderr, "npu-lab: the simulator daemon gave no valid answer for %s\n", tool);
        return 70;
    }
    body++;
    if (write_all(1, body, lo) != 0 || write_all(2, body + lo, le) != 0) return 70;
    return rc;
}
