/* error.h — the thread-local last-error message behind ane_last_error(). */
#ifndef ANE_CORE_ERROR_H
#define ANE_CORE_ERROR_H

#include "../../include/ane.h"

#if defined(__GNUC__) || defined(__clang__)
#define ANE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ANE_PRINTF(a, b)
#endif

/* Set the message (printf-style) and return `status`, so failures read
 *     return ane_fail(ANE_ERR_INVALID_ARG, "surface is NULL");                        */
ane_status ane_fail(ane_status status, const char *fmt, ...) ANE_PRINTF(2, 3);
/* Prefix the current message: "while compiling kernel x: <old message>". */
ane_status ane_fail_context(ane_status status, const char *fmt, ...) ANE_PRINTF(2, 3);
void ane_clear_error(void);

#endif
