/* device_info.c — what the ane backend reports about the machine, and which chip profile
 * it picks: sysctl for the chip, model and macOS version; _ANEDeviceInfo's class methods
 * for the Neural Engine itself (each optional: absent or of an unexpected type = null). */
#include "../core/platform.h"
#include "../core/error.h"
#include "../mil/rules.h"
#include "ane_internal.h"

/* A sysctl string into buf ("" when it does not exist). */
static void sysctl_string(const ane_rt *rt, const char *name, char *buf, size_t cap)
{
    size_t len = cap - 1;
    buf[0] = '\0';
    if (rt->sysctlbyname(name, buf, &len, NULL, 0) != 0) {
        buf[0] = '\0';
        return;
    }
    buf[len < cap ? len : cap - 1] = '\0';
}

/* "Apple M4 Pro" -> 4; 0 when the brand names no Apple M chip. */
static int m_generation(const char *brand)
{
    const char *m = strstr(brand, "Apple M");
    if (!m) return 0;
    m += strlen("Apple M");
    int gen = 0;
    while (*m >= '0' && *m <= '9' && gen < 1000) gen = gen * 10 + (*m++ - '0');
    return gen;
}

void ane_device_detect_chip(ane_ctx *c)
{
    char brand[256];
    sysctl_string(c->oc.rt, "machdep.cpu.brand_string", brand, sizeof brand);
    int gen = m_generation(brand);
    c->chip_note[0] = '\0';
    if (gen >= 1 && gen <= 5) {
        char name[4] = {'m', (char)('0' + gen), '\0', '\0'};
        c->chip = ane_chip_profile_find(name);
    } else {
        /* Newer chips have so far accepted what the previous generation did, plus more. */
        c->chip = ane_chip_profile_find("m5");
        if (gen > 5)
            snprintf(c->chip_note, sizeof c->chip_note,
                     "Apple M%d is newer than every chip profile; using m5's rules", gen);
        else
            snprintf(c->chip_note, sizeof c->chip_note,
                     "the CPU brand '%.100s' names no Apple M chip; using m5's rules", brand);
    }
}

/* The method's return type from its type encoding ("@16@0:8" -> '@'); 0 when unknown. */
static char return_type(const ane_objc *oc, Class cls, SEL sel)
{
    Method m = cls ? oc->rt->class_getClassMethod(cls, sel) : NULL;
    const char *types = m ? oc->rt->method_getTypeEncoding(m) : NULL;
    return types ? types[0] : 0;
}

/* A string-valued class method as a JSON value: the string, or null. */
static void json_string_of(const ane_objc *oc, ane_strbuf *sb, id (*fn)(Class, SEL), SEL sel,
                           bool have)
{
    const ane_rt *rt = oc->rt;
    const char *s = NULL;
    if (have && return_type(oc, oc->cls.device_info, sel) == '@') {
        id obj = fn(oc->cls.device_info, sel);
        if (obj) s = rt->msg.string_utf8(obj, oc->sel.string_utf8);
        if (rt->take_exception(NULL, 0)) s = NULL;
    }
    if (s) ane_sb_json_str(sb, s);
    else ane_sb_append(sb, "null", 4);
}

static void json_long_of(const ane_objc *oc, ane_strbuf *sb, long (*fn)(Class, SEL), SEL sel,
                         bool have)
{
    char t = have ? return_type(oc, oc->cls.device_info, sel) : 0;
    /* Only 64-bit integer returns may be read as long. */
    if (t == 'q' || t == 'Q' || t == 'l' || t == 'L') {
        long v = fn(oc->cls.device_info, sel);
        if (!oc->rt->take_exception(NULL, 0)) {
            ane_sb_printf(sb, "%ld", v);
            return;
        }
    }
    ane_sb_append(sb, "null", 4);
}

static void json_text(ane_strbuf *sb, const char *key, const char *value)
{
    ane_sb_printf(sb, ",\"%s\":", key);
    if (value && value[0]) ane_sb_json_str(sb, value);
    else ane_sb_append(sb, "null", 4);
}

ane_status ane_device_info_json(ane_ctx *c, ane_strbuf *sb)
{
    const ane_objc *oc = &c->oc;
    const ane_rt *rt = oc->rt;
    char brand[256], model[128], macos[64];
    sysctl_string(rt, "machdep.cpu.brand_string", brand, sizeof brand);
    sysctl_string(rt, "hw.model", model, sizeof model);
    sysctl_string(rt, "kern.osproductversion", macos, sizeof macos);
    int32_t ncpu = 0;
    size_t len = sizeof ncpu;
    if (rt->sysctlbyname("hw.ncpu", &ncpu, &len, NULL, 0) != 0 || len != sizeof ncpu) ncpu = 0;

    ane_sb_append(sb, "\"backend\":\"ane\"", 15);
    json_text(sb, "chip", brand);
    json_text(sb, "model", model);
    json_text(sb, "macos", macos);
    if (ncpu > 0) ane_sb_printf(sb, ",\"cpu_cores\":%d", (int)ncpu);
    else ane_sb_append(sb, ",\"cpu_cores\":null", 17);

    void *pool = rt->objc_autoreleasePoolPush();
    ane_sb_append(sb, ",\"ane_subtype\":", 15);
    json_string_of(oc, sb, rt->msg.device_subtype, oc->sel.device_subtype, oc->have.device_subtype);
    ane_sb_append(sb, ",\"ane_architecture\":", 20);
    json_string_of(oc, sb, rt->msg.device_architecture, oc->sel.device_architecture,
                   oc->have.device_architecture);
    ane_sb_append(sb, ",\"ane_product\":", 15);
    json_string_of(oc, sb, rt->msg.device_product, oc->sel.device_product, oc->have.device_product);
    ane_sb_append(sb, ",\"ane_build\":", 13);
    json_string_of(oc, sb, rt->msg.device_build, oc->sel.device_build, oc->have.device_build);
    ane_sb_append(sb, ",\"ane_cores\":", 13);
    json_long_of(oc, sb, rt->msg.device_cores, oc->sel.device_cores, oc->have.device_cores);
    ane_sb_append(sb, ",\"ane_count\":", 13);
    json_long_of(oc, sb, rt->msg.device_count, oc->sel.device_count, oc->have.device_count);
    rt->objc_autoreleasePoolPop(pool);

    ane_sb_printf(sb, ",\"hw_time\":%s,\"ane_client\":%s", oc->have.stats_new && oc->have.stats_hw_ns ? "true" : "false",
                  oc->cls.client ? "true" : "false");
    json_text(sb, "default_chip", c->chip->name);
    json_text(sb, "chip_note", c->chip_note);
    if (c->chip->peak_fp16_tflops > 0) ane_sb_printf(sb, ",\"peak_fp16_tflops\":%g", c->chip->peak_fp16_tflops);
    else ane_sb_append(sb, ",\"peak_fp16_tflops\":null", 24);
    json_text(sb, "peak_source", c->chip->peak_source);
    return sb->failed ? ane_fail(ANE_ERR_NO_MEMORY, "out of memory writing the device info") : ANE_OK;
}
