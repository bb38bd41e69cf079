/* fuse.c — plan-time peepholes that merge the attention kernels' elementwise chains into one
 * pass (the [H, S, S] tensors they walk are the biggest the training kernels touch):
 *
 *   softmax(add(mul(s, c), mask))            -> scaled masked softmax   (one read of s)
 *   reduce_sum(mul(a, b), axis=-1)           -> row dot                 (no a*b tensor)
 *   mul(mul(p, sub(d, r)), c)                -> p * (d - r) * c         (softmax backward)
 *   mul(mul(x, sigmoid(x)), b), mul(silu(x), b)  -> SwiGLU's gate      (one read of x and b)
 *   add(mul(x, cos), mul(matmul(R, x), sin))  -> rotary embedding      (R a constant signed
 *   add(mul(x, cos), matmul(R, mul(x, sin)))  -> and its backward       permutation: no matmul)
 *
 * A chain is merged only when each intermediate result is read by the next op alone (not by
 * another step, not a program output), so the skipped steps' buffers are simply never
 * written. The fused kernels (ops_fused.c) compute the same expressions in the same order,
 * and under ANE numerics round every intermediate to fp16 exactly where the separate ops
 * would: the result is bit-identical in both numerics. */
#include "../core/platform.h"
#include "plan.h"
#include "ops.h"

typedef struct fuse_info {
    int *reads;      /* per buffer: how many step inputs and program outputs read it */
    int *writer;     /* per buffer: the step that writes it, or -1 */
} fuse_info;

static int buf_of(const cpu_plan *plan, int t) { return t >= 0 ? plan->tensors[t].buffer : -1; }

/* The step that writes the buffer under tensor t, when t is read by nobody but one step. */
static cpu_step *sole_producer(cpu_plan *plan, const fuse_info *f, int t)
{
    int b = buf_of(plan, t);
    if (b < 0 || f->reads[b] != 1 || f->writer[b] < 0) return NULL;
    return &plan->steps[f->writer[b]];
}

static int is_map(const cpu_step *s, mil_opcode code)
{
    return s && s->run == cpu_run_map && s->p.code == code && s->n_in == 2;
}

/* A float tensor holding n elements in row-major order (any shape that differs only by 1s). */
static int dense(const cpu_plan *plan, int t, int64_t n)
{
    const cpu_tensor *x = &plan->tensors[t];
    return x->buffer >= 0 && cpu_dtype_is_float(x->dtype) && cpu_elems(x) == n && cpu_is_contiguous(x);
}

static int scalar(const cpu_plan *plan, int t)
{
    const cpu_tensor *x = &plan->tensors[t];
    return x->buffer >= 0 && cpu_dtype_is_float(x->dtype) && cpu_elems(x) == 1;
}

static int is_unary(const cpu_step *s, mil_opcode code)
{
    return s && s->run == cpu_run_map && s->p.code == code && s->n_in == 1;
}

static void skip(cpu_step *s) { s->run = cpu_run_nothing; }

/* Tensors a and b are the same n values (same buffer and offset, both dense). */
static int same_data(const cpu_plan *plan, int a, int b, int64_t n)
{
    return dense(plan, a, n) && dense(plan, b, n) && plan->tensors[a].buffer == plan->tensors[b].buffer &&
           plan->tensors[a].offset == plan->tensors[b].offset;
}

/* A constant: a buffer that no step writes and that is not a program input. */
static int constant(const cpu_plan *plan, const fuse_info *f, int t)
{
    int b = buf_of(plan, t);
    if (b < 0 || f->writer[b] >= 0) return 0;
    for (int i = 0; i < plan->n_inputs; i++)
        if (buf_of(plan, plan->input_tensors[i]) == b) return 0;
    return 1;
}

/* softmax over the last axis of add(y, mask), y = mul(s, c) or any dense tensor (c = 1). */
static void fuse_softmax(cpu_plan *plan, const fuse_info *f, cpu_step *sm)
{
    if (sm->p.inner != 1 || sm->in[1] >= 0 || sm->in[2] >= 0) return;
    int64_t rows = sm->p.outer, R = sm->p.reduce, n = rows * R;
    if (!dense(plan, sm->in[0], n) || !dense(plan, sm->out, n)) return;
    cpu_step *add = sole_producer(plan, f, sm->in[0]);
    if (!is_map(add, MIL_OP_ADD) || !dense(plan, add->out, n)) return;
    /* which operand is the mask: contiguous, its shape (without leading 1s) the output's
     * trailing axes, so row o of the output adds mask row o % mask_rows */
    const cpu_tensor *out = &plan->tensors[add->out];
    for (int k = 0; k < 2; k++) {
        int y = add->in[k], m = add->in[1 - k];
        if (!dense(plan, y, n)) continue;
        const cpu_tensor *mt = &plan->tensors[m];
        if (!cpu_is_contiguous(mt) || !cpu_dtype_is_float(mt->dtype) || out->rank < 1 || out->shape[out->rank - 1] != R)
            continue;
        int lead = 0;
        while (lead < mt->rank && mt->shape[lead] == 1) lead++;
        int fits = mt->rank - lead <= out->rank;
        for (int i = lead; fits && i < mt->rank; i++)
            if (mt->shape[i] != out->shape[out->rank - (mt->rank - i)]) fits = 0;
        if (!fits || cpu_elems(mt) % R != 0 || cpu_elems(mt) < R) continue;
        int src = y, c = -1;
        cpu_step *mul = sole_producer(plan, f, y);
        if (is_map(mul, MIL_OP_MUL) && dense(plan, mul->out, n)) {
            for (int j = 0; j < 2; j++)
                if (scalar(plan, mul->in[j]) && dense(plan, mul->in[1 - j], n)) { c = mul->in[j]; src = mul->in[1 - j]; break; }
            if (c >= 0) skip(mul);
        }
        skip(add);
        sm->run = cpu_run_scaled_masked_softmax;
        sm->in[0] = src; sm->in[1] = c; sm->in[2] = m;
        sm->p.scratch_elems = cpu_elems(mt) / R;         /* mask rows */
        return;
    }
}

/* reduce_sum over the last axis of mul(a, b), a and b dense. */
static void fuse_row_dot(cpu_plan *plan, const fuse_info *f, cpu_step *red)
{
    if (red->p.code != MIL_OP_REDUCE_SUM || red->p.inner != 1) return;
    int64_t n = red->p.outer * red->p.reduce;
    if (!dense(plan, red->in[0], n)) return;
    cpu_step *mul = sole_producer(plan, f, red->in[0]);
    if (!is_map(mul, MIL_OP_MUL) || !dense(plan, mul->in[0], n) || !dense(plan, mul->in[1], n)) return;
    skip(mul);
    red->run = cpu_run_row_dot;
    red->in[0] = mul->in[0]; red->in[1] = mul->in[1];
}

/* mul(mul(p, sub(d, r)), c) with p, d dense [rows, R], r one value per row, c a scalar. */
static void fuse_softmax_bwd(cpu_plan *plan, const fuse_info *f, cpu_step *outer)
{
    if (!is_map(outer, MIL_OP_MUL)) return;
    const cpu_tensor *ot = &plan->tensors[outer->out];
    int64_t n = cpu_elems(ot);
    if (ot->rank < 1 || !dense(plan, outer->out, n)) return;
    int64_t R = ot->shape[ot->rank - 1], rows = R > 0 ? n / R : 0;
    for (int k = 0; k < 2; k++) {
        int c = outer->in[k];
        if (!scalar(plan, c) || !dense(plan, outer->in[1 - k], n)) continue;
        cpu_step *inner = sole_producer(plan, f, outer->in[1 - k]);
        if (!is_map(inner, MIL_OP_MUL) || !dense(plan, inner->out, n)) return;
        for (int j = 0; j < 2; j++) {
            int p = inner->in[j];
            if (!dense(plan, p, n) || !dense(plan, inner->in[1 - j], n)) continue;
            cpu_step *sub = sole_producer(plan, f, inner->in[1 - j]);
            if (!is_map(sub, MIL_OP_SUB) || !dense(plan, sub->out, n) || !dense(plan, sub->in[0], n)) continue;
            /* r: one value per row, broadcast along the last axis ([..., 1]) */
            const cpu_tensor *rt = &plan->tensors[sub->in[1]];
            if (R == 1 || !dense(plan, sub->in[1], rows) || rt->rank != ot->rank || rt->shape[rt->rank - 1] != 1) continue;
            int *in = realloc(outer->in, 4 * sizeof(int));
            if (!in) return;                  /* fusion is optional */
            skip(sub);
            skip(inner);
            outer->in = in;
            outer->n_in = 4;
            outer->run = cpu_run_softmax_bwd;
            in[0] = p; in[1] = sub->in[0]; in[2] = sub->in[1]; in[3] = c;
            outer->p.reduce = R;
            outer->p.outer = rows;
            return;
        }
        return;
    }
}

/* mul(g, b) with g = mul(x, sigmoid(x)) or silu(x), all dense and the same size. */
static void fuse_silu_mul(cpu_plan *plan, const fuse_info *f, cpu_step *outer)
{
    if (!is_map(outer, MIL_OP_MUL)) return;
    int64_t n = cpu_elems(&plan->tensors[outer->out]);
    if (!dense(plan, outer->out, n)) return;
    for (int k = 0; k < 2; k++) {
        int g = outer->in[k], b = outer->in[1 - k];
        if (!dense(plan, g, n) || !dense(plan, b, n)) continue;
        cpu_step *gs = sole_producer(plan, f, g);
        if (is_unary(gs, MIL_OP_SILU) && dense(plan, gs->in[0], n)) {
            skip(gs);
            outer->run = cpu_run_silu_mul;
            outer->p.code = MIL_OP_SILU;
            outer->in[0] = gs->in[0]; outer->in[1] = b;
            outer->p.outer = n;
            return;
        }
        if (!is_map(gs, MIL_OP_MUL)) continue;
        for (int j = 0; j < 2; j++) {
            int x = gs->in[1 - j];
            cpu_step *sig = sole_producer(plan, f, gs->in[j]);
            if (!is_unary(sig, MIL_OP_SIGMOID) || !dense(plan, gs->in[j], n) || !same_data(plan, sig->in[0], x, n)) continue;
            skip(sig);
            skip(gs);
            outer->run = cpu_run_silu_mul;
            outer->p.code = MIL_OP_SIGMOID;
            outer->in[0] = x; outer->in[1] = b;
            outer->p.outer = n;
            return;
        }
    }
}

/* A constant [.., n, S] table (leading axes all 1) for heads of n channels and S positions. */
static int rope_table(const cpu_plan *plan, const fuse_info *f, int t, int64_t n, int64_t S)
{
    const cpu_tensor *x = &plan->tensors[t];
    if (!constant(plan, f, t) || !cpu_is_contiguous(x) || x->rank < 2 || cpu_elems(x) != n * S) return 0;
    return x->shape[x->rank - 2] == n && x->shape[x->rank - 1] == S;
}

/* matmul(R, y) with R a constant signed permutation [n, n] broadcast over y's heads. */
static int rope_matmul(const cpu_plan *plan, const fuse_info *f, const cpu_step *mm, int64_t n, int64_t N)
{
    if (!mm || mm->run != cpu_run_matmul || mm->p.transpose_x || mm->p.transpose_y || !dense(plan, mm->out, N)) return 0;
    int r = mm->in[0];
    const cpu_tensor *rt = &plan->tensors[r];
    if (!constant(plan, f, r) || !cpu_is_contiguous(rt) || rt->rank < 2 || cpu_elems(rt) != n * n) return 0;
    int perm[CPU_ROPE_MAX];
    float sign[CPU_ROPE_MAX];
    return cpu_rope_permutation(cpu_data(plan, r), n, perm, sign) && dense(plan, mm->in[1], N);
}

/* Heads [.., n, S] of N floats whose last two axes are dense [n, S] or the transpose of dense
 * rows [S, n] (the backward's dq and dk); the leading axes any view. */
static int heads_view(const cpu_plan *plan, int t, int64_t n, int64_t S, int64_t N)
{
    const cpu_tensor *x = &plan->tensors[t];
    if (x->buffer < 0 || !cpu_dtype_is_float(x->dtype) || x->rank < 2 || cpu_elems(x) != N ||
        x->shape[x->rank - 2] != n || x->shape[x->rank - 1] != S) return 0;
    int64_t si = x->stride[x->rank - 2], st = x->stride[x->rank - 1];
    return (si == S && st == 1) || (si == 1 && st >= n);
}

/* add(mul(x, cos), t) with t = mul(matmul(R, x), sin) (forward) or matmul(R, mul(x, sin))
 * (backward); x [.., n, S] as heads_view allows (the backward's is transposed), cos and sin
 * constant [n, S]. */
static void fuse_rope(cpu_plan *plan, const fuse_info *f, cpu_step *add)
{
    if (!is_map(add, MIL_OP_ADD)) return;
    const cpu_tensor *ot = &plan->tensors[add->out];
    int64_t N = cpu_elems(ot);
    if (ot->rank < 2 || !dense(plan, add->out, N)) return;
    int64_t n = ot->shape[ot->rank - 2], S = ot->shape[ot->rank - 1];
    if (n < 1 || n > CPU_ROPE_MAX) return;
    for (int k = 0; k < 2; k++) {
        cpu_step *xc = sole_producer(plan, f, add->in[k]);
        if (!is_map(xc, MIL_OP_MUL) || !dense(plan, xc->out, N)) continue;
        for (int j = 0; j < 2; j++) {
            int x = xc->in[j], cs = xc->in[1 - j];
            if (!heads_view(plan, x, n, S, N) || !rope_table(plan, f, cs, n, S)) continue;
            int t = add->in[1 - k], sn = -1, inverse = 0;
            cpu_step *ts = sole_producer(plan, f, t), *mm = NULL, *xs = NULL;
            if (is_map(ts, MIL_OP_MUL) && dense(plan, ts->out, N)) {              /* forward: (R x) * sin */
                for (int q = 0; q < 2 && !mm; q++) {
                    cpu_step *m = sole_producer(plan, f, ts->in[q]);
                    if (rope_table(plan, f, ts->in[1 - q], n, S) && rope_matmul(plan, f, m, n, N) &&
                        (m->in[1] == x || same_data(plan, m->in[1], x, N))) { mm = m; sn = ts->in[1 - q]; }
                }
            } else if (rope_matmul(plan, f, ts, n, N)) {                          /* backward: R (x * sin) */
                cpu_step *u = sole_producer(plan, f, ts->in[1]);
                for (int q = 0; is_map(u, MIL_OP_MUL) && q < 2 && !mm; q++)
                    if (rope_table(plan, f, u->in[1 - q], n, S) && (u->in[q] == x || same_data(plan, u->in[q], x, N))) {
                        mm = ts; xs = u; sn = u->in[1 - q]; inverse = 1;
                    }
            }
            if (!mm) continue;
            int *in = realloc(add->in, 4 * sizeof(int));
            if (!in) return;                  /* fusion is optional */
            int r = mm->in[0];
            skip(xc); skip(mm);
            if (inverse) skip(xs); else skip(ts);
            add->in = in;
            add->n_in = 4;
            add->run = cpu_run_rope;
            add->p.rope_inverse = inverse;
            in[0] = x; in[1] = cs; in[2] = sn; in[3] = r;
            return;
        }
    }
}

void cpu_plan_fuse(cpu_plan *plan)
{
    fuse_info f;
    f.reads = calloc((size_t)(plan->n_buffers + 1), sizeof(int));
    f.writer = malloc((size_t)(plan->n_buffers + 1) * sizeof(int));
    if (!f.reads || !f.writer) { free(f.reads); free(f.writer); return; }   /* fusion is optional */
    for (int b = 0; b < plan->n_buffers; b++) f.writer[b] = -1;
    for (int i = 0; i < plan->n_steps; i++) {
        const cpu_step *s = &plan->steps[i];
        for (int k = 0; k < s->n_in; k++) {
            int b = buf_of(plan, s->in[k]);
            if (b >= 0) f.reads[b]++;
        }
        int b = buf_of(plan, s->out);
        if (b >= 0) f.writer[b] = f.writer[b] < 0 ? i : -2;    /* -2: written twice, leave alone */
    }
    for (int i = 0; i < plan->n_outputs; i++) {
        int b = buf_of(plan, plan->output_tensors[i]);
        if (b >= 0) f.reads[b] += 2;                            /* never fused away */
    }
    for (int b = 0; b < plan->n_buffers; b++) if (f.writer[b] == -2) f.writer[b] = -1;
    /* Each pattern is matched from its last op. A skipped step's inputs keep their read
     * counts, so a value shared with a fused chain is never taken as private. */
    for (int i = 0; i < plan->n_steps; i++) {
        cpu_step *s = &plan->steps[i];
        if (s->run == cpu_run_softmax) fuse_softmax(plan, &f, s);
        else if (s->run == cpu_run_reduce) fuse_row_dot(plan, &f, s);
    }
    for (int i = 0; i < plan->n_steps; i++) {
        cpu_step *s = &plan->steps[i];
        if (s->run == cpu_run_map) fuse_softmax_bwd(plan, &f, s);
        if (s->run == cpu_run_map) fuse_silu_mul(plan, &f, s);
        if (s->run == cpu_run_map) fuse_rope(plan, &f, s);
    }
    free(f.reads);
    free(f.writer);
}
