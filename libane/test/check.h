/* check.h — the C tests' one assertion: CHECK(cond, fmt, ...) counts a pass, or a failure printed
 * with its file, line and message; check_summary() prints the closing "N passed, M failed" line
 * (what scripts/ci/run-c-tests.sh reads) and gives the exit status. */
#ifndef ANE_TEST_CHECK_H
#define ANE_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond, ...)                                          \
    do {                                                          \
        if (cond) passed++;                                       \
        else {                                                    \
            failed++;                                             \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);           \
            printf(__VA_ARGS__);                                  \
            printf("\n");                                         \
        }                                                         \
    } while (0)

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
