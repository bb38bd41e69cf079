/* ops_quant.c — quantize and dequantize (int8/uint8, per tensor or per channel of `axis`).
 *
 *   quantize:   q = saturate(round_half_even(x / scale) + zero_point)
 *   dequantize: y = (q - zero_point) * scale
 * The plan gives p.reduce = number of scale values (1 or the size of `axis`) and p.inner =
 * the elements after `axis`, so element i belongs to channel (i / inner) % channels. */
#include "../core/platform.h"
#include "../core/threads.h"
#include "ops.h"

float cpu_round_half_even(float v)
{
    float r = floorf(v), d = v - r;
    /* r is a whole number; it is odd when halving it leaves a fraction */
    int odd = (r * 0.5f) != floorf(r * 0.5f);
    if (d > 0.5f || (d == 0.5f && odd)) r += 1.0f;
    return r;
}

void cpu_dequantize_values(const float *q, int64_t begin, int64_t end, const float *scale,
                           const float *zp, int64_t channels, int64_t inner, float *y)
{
    for (int64_t i = begin; i < end; i++) {
        int64_t c = channels > 1 ? (i / inner) % channels : 0;
        y[i] = (q[i] - (zp ? zp[c] : 0.0f)) * scale[c];
    }
}

typedef struct quant_ctx {
    const cpu_plan *plan;
    const cpu_step *s;
    const float *x, *scale, *zp;
    float *y;
    float lo, hi;
} quant_ctx;

static void quantize_range(void *vctx, int64_t begin, int64_t end)
{
    quant_ctx *c = vctx;
    int64_t channels = c->s->p.reduce, inner = c->s->p.inner;
    for (int64_t i = begin; i < end; i++) {
        int64_t ch = channels > 1 ? (i / inner) % channels : 0;
        float q = cpu_round_half_even(c->x[i] / c->scale[ch]) + (c->zp ? c->zp[ch] : 0.0f);
        c->y[i] = isnan(q) ? 0.0f : q < c->lo ? c->lo : q > c->hi ? c->hi : q;
    }
}

static void dequantize_range(void *vctx, int64_t begin, int64_t end)
{
    quant_ctx *c = vctx;
    cpu_dequantize_values(c->x, begin, end, c->scale, c->zp, c->s->p.reduce, c->s->p.inner, c->y);
    cpu_finish(c->plan, c->s->out, c->y + begin, end - begin);
}

static ane_status run(const cpu_plan *plan, const cpu_step *s, ane_range_fn fn)
{
    mil_dtype t = plan->tensors[s->out].dtype;
    quant_ctx c = { plan, s, cpu_data(plan, s->in[0]), cpu_data(plan, s->in[1]),
                    s->in[2] >= 0 ? cpu_data(plan, s->in[2]) : NULL, cpu_data(plan, s->out),
                    t == MIL_UINT8 ? 0.0f : -128.0f, t == MIL_UINT8 ? 255.0f : 127.0f };
    ane_parallel_for(cpu_elems(&plan->tensors[s->out]), 16384, fn, &c);
    return ANE_OK;
}

ane_status cpu_run_quantize(const cpu_plan *plan, const cpu_step *s) { return run(plan, s, quantize_range); }
ane_status cpu_run_dequantize(const cpu_plan *plan, const cpu_step *s) { return run(plan, s, dequantize_range); }
