/* The machine's own idle penalty, with no Python: a dependent pointer chase over a working set,
 * timed back to back, after 1 ms asleep, after 1 ms spinning and after evicting 16 MiB, the
 * same four modes perf/profile_cold_path.py applies to the engine's tick call.
 * Usage: _idle_penalty WORKING_SET_BYTES STEPS CALLS; prints "mode<TAB>p50_ns<TAB>p99_ns" lines
 * (of the calls after the first tenth). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    size_t lines = strtoull(argv[1], NULL, 10) / 64;
    long steps = atol(argv[2]);
    int calls = atoi(argv[3]);
    if (lines < 2 || steps < 1 || calls < 10) return 2;
    size_t *chain = malloc(lines * 64), *order = malloc(lines * sizeof(size_t));
    size_t evict_len = 16u << 20;
    volatile unsigned char *evict = malloc(evict_len);
    uint64_t *times = malloc((size_t)calls * sizeof(uint64_t));
    if (!chain || !order || !evict || !times) return 3;
    for (size_t i = 0; i < lines; i++) order[i] = i;
    srand(1);  /* one cache line per hop, in a random cycle: no prefetcher helps */
    for (size_t i = lines - 1; i > 0; i--) {
        size_t j = (size_t)rand() % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < lines; i++) chain[order[i] * 8] = order[(i + 1) % lines] * 8;
    const char *modes[4] = {"hot", "after 1 ms asleep", "after 1 ms spinning",
                            "after evicting 16 MiB"};
    size_t sink = 0;
    for (int mode = 0; mode < 4; mode++) {
        for (int k = 0; k < calls; k++) {
            if (mode == 1) {
                struct timespec pause = {0, 1000000};
                nanosleep(&pause, NULL);
            } else if (mode == 2) {
                uint64_t end = now_ns() + 1000000;
                while (now_ns() < end) {}
            } else if (mode == 3) {
                for (size_t i = 0; i < evict_len; i += 64) evict[i]++;
            }
            uint64_t start = now_ns();
            size_t at = 0;
            for (long s = 0; s < steps; s++) at = chain[at];
            sink += at;
            times[k] = now_ns() - start;
        }
        qsort(times + calls / 10, (size_t)(calls - calls / 10), sizeof(uint64_t), by_value);
        size_t kept = (size_t)(calls - calls / 10);
        printf("%s\t%llu\t%llu\n", modes[mode],
               (unsigned long long)times[calls / 10 + kept / 2],
               (unsigned long long)times[calls / 10 + kept * 99 / 100]);
    }
    fprintf(stderr, "%zu\n", sink);  /* the chase's result is used: it cannot be dropped */
    return 0;
}
