/* error.c — thread-local last-error message. */
#include "platform.h"
#include "error.h"

#define ANE_ERROR_CAP 2048

static _Thread_local char last_error[ANE_ERROR_CAP];

ane_status ane_fail(ane_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

ane_status ane_fail_context(ane_status status, const char *fmt, ...)
{
    char prefix[512], old[ANE_ERROR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    size_t n = strlen(prefix);
    memcpy(last_error, prefix, n);
    last_error[n] = ':';
    last_error[n + 1] = ' ';
    size_t room = sizeof last_error - n - 3;
    size_t m = strlen(old);
    if (m > room) m = room;
    memcpy(last_error + n + 2, old, m);
    last_error[n + 2 + m] = '\0';
    return status;
}

void ane_clear_error(void) { last_error[0] = '\0'; }

ANE_API const char *ane_last_error(void) { return last_error; }

ANE_API const char *ane_status_name(ane_status status)
{
    switch (status) {
    case ANE_OK: return "ANE_OK";
    case ANE_ERR_INVALID_ARG: return "ANE_ERR_INVALID_ARG";
    case ANE_ERR_PARSE: return "ANE_ERR_PARSE";
    case ANE_ERR_TYPE: return "ANE_ERR_TYPE";
    case ANE_ERR_RULE: return "ANE_ERR_RULE";
    case ANE_ERR_UNSUPPORTED: return "ANE_ERR_UNSUPPORTED";
    case ANE_ERR_NO_BACKEND: return "ANE_ERR_NO_BACKEND";
    case ANE_ERR_NO_MEMORY: return "ANE_ERR_NO_MEMORY";
    case ANE_ERR_BUDGET: return "ANE_ERR_BUDGET";
    case ANE_ERR_STATE: return "ANE_ERR_STATE";
    case ANE_ERR_BINDING: return "ANE_ERR_BINDING";
    case ANE_ERR_DEVICE: return "ANE_ERR_DEVICE";
    case ANE_ERR_IO: return "ANE_ERR_IO";
    case ANE_ERR_WEIGHTS: return "ANE_ERR_WEIGHTS";
    case ANE_ERR_BUFFER_TOO_SMALL: return "ANE_ERR_BUFFER_TOO_SMALL";
    case ANE_ERR_INTERNAL: return "ANE_ERR_INTERNAL";
    }
    return "ANE_ERR_UNKNOWN";
}
