/**
 * An independent float64 reference of the Llama / Qwen3 transformer: forward, loss and the
 * full backward, written plainly in the conventional row-major [S, D] layout (not libane's
 * channel-major one), so tests can check rustane's training step against it. Slow on
 * purpose-free loops: only for tiny configs in tests.
 *
 * Parameter names follow Hugging Face (model.layers.N.self_attn.q_proj.weight, ...); every
 * matrix is [out, in] row-major as nn.Linear stores it.
 */

export interface RefConfig {
  family: "llama" | "qwen3";
  dim: number;
  n_layers: number;
  n_heads: number;
  n_kv_heads: number;
  head_dim: number;
  hidden_dim: number;
  vocab_size: number;
  norm_eps: number;
  rope: { theta: number; style: "interleaved" | "rotate_half" };
  qk_norm: boolean;
  tied_embeddings: boolean;
  /** Activation clipping: each layer's output clamped to [-act_clip, act_clip] (absent or 0: off). */
  act_clip?: number;
}

export type RefParams = Map<string, Float64Array>;

/** The reference's view of one of rustane's model configs (llama / qwen3). */
export function refConfigOf(c: { family: string; dim: number; n_layers: number; n_heads: number; n_kv_heads: number;
  head_dim: number; hidden_dim: number; vocab_size: number; norm_eps: number; rope: RefConfig["rope"] | null;
  qk_norm: boolean; tied_embeddings: boolean }): RefConfig {
  if (c.family !== "llama" && c.family !== "qwen3") throw new Error(`the transformer reference covers llama and qwen3, not ${c.family}`);
  if (!c.rope) throw new Error("the transformer reference needs rotary embeddings");
  return { family: c.family, dim: c.dim, n_layers: c.n_layers, n_heads: c.n_heads, n_kv_heads: c.n_kv_heads,
    head_dim: c.head_dim, hidden_dim: c.hidden_dim, vocab_size: c.vocab_size, norm_eps: c.norm_eps,
    rope: c.rope, qk_norm: c.qk_norm, tied_embeddings: c.tied_embeddings };
}

/** Shapes of every parameter, in a fixed order. */
export function refParamShapes(c: RefConfig): Array<[string, number[]]> {
  const Q = c.n_heads * c.head_dim, KV = c.n_kv_heads * c.head_dim;
  const out: Array<[string, number[]]> = [["model.embed_tokens.weight", [c.vocab_size, c.dim]]];
  for (let l = 0; l < c.n_layers; l++) {
    const p = `model.layers.${l}.`;
    out.push([p + "input_layernorm.weight", [c.dim]]);
    out.push([p + "self_attn.q_proj.weight", [Q, c.dim]]);
    out.push([p + "self_attn.k_proj.weight", [KV, c.dim]]);
    out.push([p + "self_attn.v_proj.weight", [KV, c.dim]]);
    if (c.qk_norm) {
      out.push([p + "self_attn.q_norm.weight", [c.head_dim]]);
      out.push([p + "self_attn.k_norm.weight", [c.head_dim]]);
    }
    out.push([p + "self_attn.o_proj.weight", [c.dim, Q]]);
    out.push([p + "post_attention_layernorm.weight", [c.dim]]);
    out.push([p + "mlp.gate_proj.weight", [c.hidden_dim, c.dim]]);
    out.push([p + "mlp.up_proj.weight", [c.hidden_dim, c.dim]]);
    out.push([p + "mlp.down_proj.weight", [c.dim, c.hidden_dim]]);
  }
  out.push(["model.norm.weight", [c.dim]]);
  if (!c.tied_embeddings) out.push(["lm_head.weight", [c.vocab_size, c.dim]]);
  return out;
}

// ---------------------------------------------------------------- small float64 linear algebra

/** y[S, O] = x[S, I] · W[O, I]ᵀ */
function linear(x: Float64Array, W: Float64Array, S: number, I: number, O: number): Float64Array {
  const y = new Float64Array(S * O);
  for (let s = 0; s < S; s++)
    for (let o = 0; o < O; o++) {
      let acc = 0;
      for (let i = 0; i < I; i++) acc += x[s * I + i] * W[o * I + i];
      y[s * O + o] = acc;
    }
  return y;
}

/** Backward of linear: dx[S, I] += dy · W, dW[O, I] += dyᵀ · x */
function linearBwd(x: Float64Array, W: Float64Array, dy: Float64Array, S: number, I: number, O: number,
  dx: Float64Array, dW: Float64Array): void {
  for (let s = 0; s < S; s++)
    for (let o = 0; o < O; o++) {
      const g = dy[s * O + o];
      if (g === 0) continue;
      for (let i = 0; i < I; i++) {
        dx[s * I + i] += g * W[o * I + i];
        dW[o * I + i] += g * x[s * I + i];
      }
    }
}

/** RMSNorm over the last axis of rows of length C: y = x / rms(x) * w. Returns y and 1/rms per row. */
function rmsnorm(x: Float64Array, w: Float64Array, rows: number, C: number, eps: number) {
  const y = new Float64Array(rows * C), inv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[r * C + c] ** 2;
    inv[r] = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) y[r * C + c] = x[r * C + c] * inv[r] * w[c];
  }
  return { y, inv };
}

function rmsnormBwd(x: Float64Array, w: Float64Array, inv: Float64Array, dy: Float64Array, rows: number, C: number,
  dx: Float64Array, dw: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let c = 0; c < C; c++) dot += dy[r * C + c] * w[c] * x[r * C + c];
    const k = dot * inv[r] ** 3 / C;
    for (let c = 0; c < C; c++) {
      dx[r * C + c] += inv[r] * w[c] * dy[r * C + c] - x[r * C + c] * k;
      dw[c] += dy[r * C + c] * x[r * C + c] * inv[r];
    }
  }
}

/** The channel pairs that rotate together within a head. */
function ropePairs(hd: number, style: RefConfig["rope"]["style"]): Array<[number, number, number]> {
  const pairs: Array<[number, number, number]> = [];
  for (let k = 0; k < hd / 2; k++)
    pairs.push(style === "interleaved" ? [2 * k, 2 * k + 1, k] : [k, k + hd / 2, k]);
  return pairs;
}

/** Rotate each head of x [S, heads*hd] in place; sign -1 applies the inverse (the backward). */
function rope(x: Float64Array, S: number, heads: number, hd: number, cfg: RefConfig["rope"], sign: 1 | -1): void {
  const pairs = ropePairs(hd, cfg.style);
  for (let s = 0; s < S; s++)
    for (let h = 0; h < heads; h++)
      for (const [a, b, k] of pairs) {
        const ang = s * Math.pow(cfg.theta, (-2 * k) / hd);
        const cs = Math.cos(ang), sn = sign * Math.sin(ang);
        const ia = s * heads * hd + h * hd + a, ib = s * heads * hd + h * hd + b;
        const va = x[ia], vb = x[ib];
        x[ia] = va * cs - vb * sn;
        x[ib] = va * sn + vb * cs;
      }
}

const silu = (v: number) => v / (1 + Math.exp(-v));
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

// ---------------------------------------------------------------- forward with saved activations

interface LayerCache {
  x: Float64Array; xn: Float64Array; inv1: Float64Array;
  qRaw: Float64Array; kRaw: Float64Array; qInv: Float64Array; kInv: Float64Array;
  q: Float64Array; k: Float64Array; v: Float64Array; probs: Float64Array; attn: Float64Array;
  x2: Float64Array; xn2: Float64Array; inv2: Float64Array; h1: Float64Array; h3: Float64Array; g: Float64Array;
}

export interface RefForward {
  logits: Float64Array; // [S, V]
  loss: number;         // mean over positions
  caches: LayerCache[];
  xFinal: Float64Array; xf: Float64Array; invF: Float64Array;
}

export function refForward(c: RefConfig, P: RefParams, tokens: ArrayLike<number>, targets: ArrayLike<number>): RefForward {
  const S = tokens.length, D = c.dim, H = c.n_heads, KVH = c.n_kv_heads, hd = c.head_dim;
  const Q = H * hd, KV = KVH * hd, F = c.hidden_dim, V = c.vocab_size, group = H / KVH;
  const get = (n: string) => { const t = P.get(n); if (!t) throw new Error(`missing parameter ${n}`); return t; };
  const E = get("model.embed_tokens.weight");
  let x = new Float64Array(S * D);
  for (let s = 0; s < S; s++) x.set(E.subarray(tokens[s] * D, tokens[s] * D + D), s * D);
  const caches: LayerCache[] = [];
  for (let l = 0; l < c.n_layers; l++) {
    const p = `model.layers.${l}.`;
    const { y: xn, inv: inv1 } = rmsnorm(x, get(p + "input_layernorm.weight"), S, D, c.norm_eps);
    const qRaw = linear(xn, get(p + "self_attn.q_proj.weight"), S, D, Q);
    const kRaw = linear(xn, get(p + "self_attn.k_proj.weight"), S, D, KV);
    const v = linear(xn, get(p + "self_attn.v_proj.weight"), S, D, KV);
    let q = qRaw.slice(), k = kRaw.slice(), qInv = new Float64Array(0), kInv = new Float64Array(0);
    if (c.qk_norm) {
      const qn = rmsnorm(qRaw, get(p + "self_attn.q_norm.weight"), S * H, hd, c.norm_eps);
      const kn = rmsnorm(kRaw, get(p + "self_attn.k_norm.weight"), S * KVH, hd, c.norm_eps);
      q = qn.y; qInv = qn.inv; k = kn.y; kInv = kn.inv;
    }
    rope(q, S, H, hd, c.rope, 1);
    rope(k, S, KVH, hd, c.rope, 1);
    const probs = new Float64Array(H * S * S), attn = new Float64Array(S * Q);
    const scale = 1 / Math.sqrt(hd);
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / group);
      for (let i = 0; i < S; i++) {
        let mx = -Infinity;
        const row = new Float64Array(S);
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += q[i * Q + h * hd + d] * k[j * KV + kh * hd + d];
          row[j] = dot * scale;
          mx = Math.max(mx, row[j]);
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) { row[j] = Math.exp(row[j] - mx); sum += row[j]; }
        for (let j = 0; j <= i; j++) probs[(h * S + i) * S + j] = row[j] / sum;
        for (let d = 0; d < hd; d++) {
          let acc = 0;
          for (let j = 0; j <= i; j++) acc += probs[(h * S + i) * S + j] * v[j * KV + kh * hd + d];
          attn[i * Q + h * hd + d] = acc;
        }
      }
    }
    const o = linear(attn, get(p + "self_attn.o_proj.weight"), S, Q, D);
    const x2 = new Float64Array(S * D);
    for (let i = 0; i < x2.length; i++) x2[i] = x[i] + o[i];
    const { y: xn2, inv: inv2 } = rmsnorm(x2, get(p + "post_attention_layernorm.weight"), S, D, c.norm_eps);
    const h1 = linear(xn2, get(p + "mlp.gate_proj.weight"), S, D, F);
    const h3 = linear(xn2, get(p + "mlp.up_proj.weight"), S, D, F);
    const g = new Float64Array(S * F);
    for (let i = 0; i < g.length; i++) g[i] = silu(h1[i]) * h3[i];
    const f = linear(g, get(p + "mlp.down_proj.weight"), S, F, D);
    const xNext = new Float64Array(S * D), ac = c.act_clip ?? 0;
    for (let i = 0; i < xNext.length; i++) xNext[i] = ac ? Math.min(Math.max(x2[i] + f[i], -ac), ac) : x2[i] + f[i];
    caches.push({ x, xn, inv1, qRaw, kRaw, qInv, kInv, q, k, v, probs, attn, x2, xn2, inv2, h1, h3, g });
    x = xNext;
  }
  const { y: xf, inv: invF } = rmsnorm(x, get("model.norm.weight"), S, D, c.norm_eps);
  const W = c.tied_embeddings ? E : get("lm_head.weight");
  const logits = linear(xf, W, S, D, V);
  let loss = 0;
  for (let s = 0; s < S; s++) {
    let mx = -Infinity;
    for (let t = 0; t < V; t++) mx = Math.max(mx, logits[s * V + t]);
    let sum = 0;
    for (let t = 0; t < V; t++) sum += Math.exp(logits[s * V + t] - mx);
    loss += Math.log(sum) + mx - logits[s * V + targets[s]];
  }
  return { logits, loss: loss / S, caches, xFinal: x, xf, invF };
}

// ---------------------------------------------------------------- backward

/** Gradients of the mean cross-entropy loss with respect to every parameter. */
export function refBackward(c: RefConfig, P: RefParams, tokens: ArrayLike<number>, targets: ArrayLike<number>,
  fw: RefForward): RefParams {
  const S = tokens.length, D = c.dim, H = c.n_heads, KVH = c.n_kv_heads, hd = c.head_dim;
  const Q = H * hd, KV = KVH * hd, F = c.hidden_dim, V = c.vocab_size, group = H / KVH;
  const get = (n: string) => P.get(n)!;
  const G: RefParams = new Map();
  for (const [name, shape] of refParamShapes(c)) G.set(name, new Float64Array(shape.reduce((a, b) => a * b, 1)));
  const grad = (n: string) => G.get(n)!;

  // loss -> logits: (softmax - onehot) / S
  const dlogits = new Float64Array(S * V);
  for (let s = 0; s < S; s++) {
    let mx = -Infinity;
    for (let t = 0; t < V; t++) mx = Math.max(mx, fw.logits[s * V + t]);
    let sum = 0;
    for (let t = 0; t < V; t++) sum += Math.exp(fw.logits[s * V + t] - mx);
    for (let t = 0; t < V; t++) dlogits[s * V + t] = Math.exp(fw.logits[s * V + t] - mx) / sum / S;
    dlogits[s * V + targets[s]] -= 1 / S;
  }
  const E = get("model.embed_tokens.weight");
  const Wcls = c.tied_embeddings ? E : get("lm_head.weight");
  const dWcls = c.tied_embeddings ? grad("model.embed_tokens.weight") : grad("lm_head.weight");
  const dxf = new Float64Array(S * D);
  linearBwd(fw.xf, Wcls, dlogits, S, D, V, dxf, dWcls);
  let dx = new Float64Array(S * D);
  rmsnormBwd(fw.xFinal, get("model.norm.weight"), fw.invF, dxf, S, D, dx, grad("model.norm.weight"));

  for (let l = c.n_layers - 1; l >= 0; l--) {
    const p = `model.layers.${l}.`, L = fw.caches[l];
    // x_next = clip(x2 + W2 g): no gradient through a clipped element (|x_next| at the bound)
    const ac = c.act_clip ?? 0;
    if (ac) {
      const xNext = l + 1 < c.n_layers ? fw.caches[l + 1].x : fw.xFinal;
      for (let i = 0; i < dx.length; i++) if (Math.abs(xNext[i]) >= ac) dx[i] = 0;
    }
    const dx2 = dx.slice();
    const dg = new Float64Array(S * F);
    linearBwd(L.g, get(p + "mlp.down_proj.weight"), dx, S, F, D, dg, grad(p + "mlp.down_proj.weight"));
    const dh1 = new Float64Array(S * F), dh3 = new Float64Array(S * F);
    for (let i = 0; i < dg.length; i++) {
      const sg = sigmoid(L.h1[i]);
      dh3[i] = dg[i] * silu(L.h1[i]);
      dh1[i] = dg[i] * L.h3[i] * sg * (1 + L.h1[i] * (1 - sg));
    }
    const dxn2 = new Float64Array(S * D);
    linearBwd(L.xn2, get(p + "mlp.gate_proj.weight"), dh1, S, D, F, dxn2, grad(p + "mlp.gate_proj.weight"));
    linearBwd(L.xn2, get(p + "mlp.up_proj.weight"), dh3, S, D, F, dxn2, grad(p + "mlp.up_proj.weight"));
    rmsnormBwd(L.x2, get(p + "post_attention_layernorm.weight"), L.inv2, dxn2, S, D, dx2,
      grad(p + "post_attention_layernorm.weight"));
    // x2 = x + Wo attn
    const dxLayer = dx2.slice();
    const dattn = new Float64Array(S * Q);
    linearBwd(L.attn, get(p + "self_attn.o_proj.weight"), dx2, S, Q, D, dattn, grad(p + "self_attn.o_proj.weight"));
    // attention
    const dq = new Float64Array(S * Q), dk = new Float64Array(S * KV), dv = new Float64Array(S * KV);
    const scale = 1 / Math.sqrt(hd);
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / group);
      for (let i = 0; i < S; i++) {
        const dp = new Float64Array(i + 1);
        let dot = 0;
        for (let j = 0; j <= i; j++) {
          const pij = L.probs[(h * S + i) * S + j];
          let acc = 0;
          for (let d = 0; d < hd; d++) {
            acc += dattn[i * Q + h * hd + d] * L.v[j * KV + kh * hd + d];
            dv[j * KV + kh * hd + d] += pij * dattn[i * Q + h * hd + d];
          }
          dp[j] = acc;
          dot += pij * acc;
        }
        for (let j = 0; j <= i; j++) {
          const ds = L.probs[(h * S + i) * S + j] * (dp[j] - dot) * scale;
          for (let d = 0; d < hd; d++) {
            dq[i * Q + h * hd + d] += ds * L.k[j * KV + kh * hd + d];
            dk[j * KV + kh * hd + d] += ds * L.q[i * Q + h * hd + d];
          }
        }
      }
    }
    rope(dq, S, H, hd, c.rope, -1);
    rope(dk, S, KVH, hd, c.rope, -1);
    let dqRaw = dq, dkRaw = dk;
    if (c.qk_norm) {
      dqRaw = new Float64Array(S * Q);
      dkRaw = new Float64Array(S * KV);
      rmsnormBwd(L.qRaw, get(p + "self_attn.q_norm.weight"), L.qInv, dq, S * H, hd, dqRaw, grad(p + "self_attn.q_norm.weight"));
      rmsnormBwd(L.kRaw, get(p + "self_attn.k_norm.weight"), L.kInv, dk, S * KVH, hd, dkRaw, grad(p + "self_attn.k_norm.weight"));
    }
    const dxn = new Float64Array(S * D);
    linearBwd(L.xn, get(p + "self_attn.q_proj.weight"), dqRaw, S, D, Q, dxn, grad(p + "self_attn.q_proj.weight"));
    linearBwd(L.xn, get(p + "self_attn.k_proj.weight"), dkRaw, S, D, KV, dxn, grad(p + "self_attn.k_proj.weight"));
    linearBwd(L.xn, get(p + "self_attn.v_proj.weight"), dv, S, D, KV, dxn, grad(p + "self_attn.v_proj.weight"));
    rmsnormBwd(L.x, get(p + "input_layernorm.weight"), L.inv1, dxn, S, D, dxLayer, grad(p + "input_layernorm.weight"));
    dx = dxLayer;
  }
  const dE = grad("model.embed_tokens.weight");
  for (let s = 0; s < S; s++)
    for (let d = 0; d < D; d++) dE[tokens[s] * D + d] += dx[s * D + d];
  return G;
}

/** Mean cross-entropy loss only (for finite differences). */
export function refLoss(c: RefConfig, P: RefParams, tokens: ArrayLike<number>, targets: ArrayLike<number>): number {
  return refForward(c, P, tokens, targets).loss;
}
