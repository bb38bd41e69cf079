/**
 * An independent float64 reference of the GPT family (nanoGPT): token + learned position
 * embeddings, pre-norm blocks (LayerNorm with bias, causal multi-head attention with a fused
 * q/k/v projection, GELU-tanh MLP, biases on every linear), final LayerNorm, classifier tied to
 * the token embedding (or lm_head). Forward, loss and the full backward, written plainly in
 * the conventional row-major [S, D] layout (not libane's channel-major one) with plain loops.
 * Only for tiny configs in tests.
 *
 * Parameter names follow nanoGPT (transformer.h.N.attn.c_attn.weight, ...); every matrix is
 * [out, in] row-major as nn.Linear stores it.
 */

export interface GptRefConfig {
  dim: number; n_layers: number; n_heads: number; hidden_dim: number; vocab_size: number;
  max_seq_len: number; norm_eps: number; tied_embeddings: boolean;
}

export type RefParams = Map<string, Float64Array>;

const GELU_K = Math.sqrt(2 / Math.PI), GELU_A = 0.044715;

/** y[S, O] = x[S, I] · W[O, I]ᵀ + b[O] */
function linear(x: Float64Array, W: Float64Array, b: Float64Array | null, S: number, I: number, O: number): Float64Array {
  const y = new Float64Array(S * O);
  for (let s = 0; s < S; s++)
    for (let o = 0; o < O; o++) {
      let acc = b ? b[o] : 0;
      for (let i = 0; i < I; i++) acc += x[s * I + i] * W[o * I + i];
      y[s * O + o] = acc;
    }
  return y;
}

/** Backward of linear: dx[S, I] += dy · W, dW[O, I] += dyᵀ · x, db[O] += column sums of dy. */
function linearBwd(x: Float64Array, W: Float64Array, dy: Float64Array, S: number, I: number, O: number,
  dx: Float64Array, dW: Float64Array, db: Float64Array | null): void {
  for (let s = 0; s < S; s++)
    for (let o = 0; o < O; o++) {
      const g = dy[s * O + o];
      if (db) db[o] += g;
      for (let i = 0; i < I; i++) { dx[s * I + i] += g * W[o * I + i]; dW[o * I + i] += g * x[s * I + i]; }
    }
}

interface LnSaved { xhat: Float64Array; rstd: Float64Array }

/** LayerNorm over the D features of each row of x [S, D]. */
function layerNorm(x: Float64Array, w: Float64Array, b: Float64Array, S: number, D: number, eps: number) {
  const y = new Float64Array(S * D), xhat = new Float64Array(S * D), rstd = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    let mean = 0;
    for (let d = 0; d < D; d++) mean += x[s * D + d];
    mean /= D;
    let v = 0;
    for (let d = 0; d < D; d++) v += (x[s * D + d] - mean) ** 2;
    rstd[s] = 1 / Math.sqrt(v / D + eps);
    for (let d = 0; d < D; d++) {
      xhat[s * D + d] = (x[s * D + d] - mean) * rstd[s];
      y[s * D + d] = xhat[s * D + d] * w[d] + b[d];
    }
  }
  return { y, saved: { xhat, rstd } as LnSaved };
}

/** dx += LayerNorm backward; dw, db accumulate. */
function layerNormBwd(sv: LnSaved, w: Float64Array, dy: Float64Array, S: number, D: number,
  dx: Float64Array, dw: Float64Array, db: Float64Array): void {
  for (let s = 0; s < S; s++) {
    let mg = 0, mgx = 0;
    for (let d = 0; d < D; d++) {
      const g = dy[s * D + d] * w[d], xh = sv.xhat[s * D + d];
      mg += g; mgx += g * xh;
      dw[d] += dy[s * D + d] * xh; db[d] += dy[s * D + d];
    }
    mg /= D; mgx /= D;
    for (let d = 0; d < D; d++) {
      const g = dy[s * D + d] * w[d], xh = sv.xhat[s * D + d];
      dx[s * D + d] += sv.rstd[s] * (g - mg - xh * mgx);
    }
  }
}

function gelu(h: number): number { return 0.5 * h * (1 + Math.tanh(GELU_K * (h + GELU_A * h ** 3))); }
function geluGrad(h: number): number {
  const t = Math.tanh(GELU_K * (h + GELU_A * h ** 3));
  return 0.5 * (1 + t) + 0.5 * h * (1 - t * t) * GELU_K * (1 + 3 * GELU_A * h * h);
}

interface LayerSaved {
  xIn: Float64Array; ln1: LnSaved; a: Float64Array; qkv: Float64Array; P: Float64Array; attn: Float64Array;
  x2: Float64Array; ln2: LnSaved; n2: Float64Array; h: Float64Array; g: Float64Array;
}

export interface GptForward { loss: number; logits: Float64Array; layers: LayerSaved[]; xLast: Float64Array; lnf: LnSaved; xf: Float64Array }

function pname(l: number, n: string) { return `transformer.h.${l}.${n}`; }

function get(p: RefParams, n: string): Float64Array {
  const t = p.get(n);
  if (!t) throw new Error(`reference: no parameter ${n}`);
  return t;
}

/** Forward and mean cross-entropy loss; logits [S, V]. */
export function gptRefForward(c: GptRefConfig, p: RefParams, tokens: Int32Array, targets: Int32Array): GptForward {
  const S = tokens.length, D = c.dim, F = c.hidden_dim, V = c.vocab_size, H = c.n_heads, hd = D / H;
  const wte = get(p, "transformer.wte.weight"), wpe = get(p, "transformer.wpe.weight");
  let x = new Float64Array(S * D);
  for (let s = 0; s < S; s++) for (let d = 0; d < D; d++) x[s * D + d] = wte[tokens[s] * D + d] + wpe[s * D + d];
  const layers: LayerSaved[] = [];
  for (let l = 0; l < c.n_layers; l++) {
    const P_ = (n: string) => get(p, pname(l, n));
    const { y: a, saved: ln1 } = layerNorm(x, P_("ln_1.weight"), P_("ln_1.bias"), S, D, c.norm_eps);
    const qkv = linear(a, P_("attn.c_attn.weight"), P_("attn.c_attn.bias"), S, D, 3 * D);
    const P = new Float64Array(H * S * S), attn = new Float64Array(S * D);
    for (let h = 0; h < H; h++)
      for (let i = 0; i < S; i++) {
        let mx = -Infinity;
        const row = new Float64Array(i + 1);
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let e = 0; e < hd; e++) dot += qkv[i * 3 * D + h * hd + e] * qkv[j * 3 * D + D + h * hd + e];
          row[j] = dot / Math.sqrt(hd);
          mx = Math.max(mx, row[j]);
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) { row[j] = Math.exp(row[j] - mx); sum += row[j]; }
        for (let j = 0; j <= i; j++) {
          const pij = row[j] / sum;
          P[(h * S + i) * S + j] = pij;
          for (let e = 0; e < hd; e++) attn[i * D + h * hd + e] += pij * qkv[j * 3 * D + 2 * D + h * hd + e];
        }
      }
    const o = linear(attn, P_("attn.c_proj.weight"), P_("attn.c_proj.bias"), S, D, D);
    const x2 = new Float64Array(S * D);
    for (let i = 0; i < S * D; i++) x2[i] = x[i] + o[i];
    const { y: n2, saved: ln2 } = layerNorm(x2, P_("ln_2.weight"), P_("ln_2.bias"), S, D, c.norm_eps);
    const h = linear(n2, P_("mlp.c_fc.weight"), P_("mlp.c_fc.bias"), S, D, F);
    const g = h.map(gelu);
    const f = linear(g, P_("mlp.c_proj.weight"), P_("mlp.c_proj.bias"), S, F, D);
    const xNext = new Float64Array(S * D);
    for (let i = 0; i < S * D; i++) xNext[i] = x2[i] + f[i];
    layers.push({ xIn: x, ln1, a, qkv, P, attn, x2, ln2, n2, h, g });
    x = xNext;
  }
  const { y: xf, saved: lnf } = layerNorm(x, get(p, "transformer.ln_f.weight"), get(p, "transformer.ln_f.bias"), S, D, c.norm_eps);
  const cls = get(p, c.tied_embeddings ? "transformer.wte.weight" : "lm_head.weight");
  const logits = linear(xf, cls, null, S, D, V);
  let loss = 0;
  for (let s = 0; s < S; s++) {
    let mx = -Infinity;
    for (let v = 0; v < V; v++) mx = Math.max(mx, logits[s * V + v]);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[s * V + v] - mx);
    loss += Math.log(sum) + mx - logits[s * V + targets[s]];
  }
  return { loss: loss / S, logits, layers, xLast: x, lnf, xf };
}

/** Gradients of the mean loss for every parameter. */
export function gptRefBackward(c: GptRefConfig, p: RefParams, tokens: Int32Array, targets: Int32Array, fw: GptForward): RefParams {
  const S = tokens.length, D = c.dim, F = c.hidden_dim, V = c.vocab_size, H = c.n_heads, hd = D / H;
  const grads: RefParams = new Map();
  for (const [n, t] of p) grads.set(n, new Float64Array(t.length));
  const G = (n: string) => grads.get(n)!;
  // dlogits = (softmax - onehot) / S
  const dlogits = new Float64Array(S * V);
  for (let s = 0; s < S; s++) {
    let mx = -Infinity;
    for (let v = 0; v < V; v++) mx = Math.max(mx, fw.logits[s * V + v]);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(fw.logits[s * V + v] - mx);
    for (let v = 0; v < V; v++) dlogits[s * V + v] = (Math.exp(fw.logits[s * V + v] - mx) / sum - (v === targets[s] ? 1 : 0)) / S;
  }
  const clsName = c.tied_embeddings ? "transformer.wte.weight" : "lm_head.weight";
  const dxf = new Float64Array(S * D);
  linearBwd(fw.xf, get(p, clsName), dlogits, S, D, V, dxf, G(clsName), null);
  let dx = new Float64Array(S * D);
  layerNormBwd(fw.lnf, get(p, "transformer.ln_f.weight"), dxf, S, D, dx, G("transformer.ln_f.weight"), G("transformer.ln_f.bias"));
  for (let l = c.n_layers - 1; l >= 0; l--) {
    const L = fw.layers[l], P_ = (n: string) => get(p, pname(l, n)), Gl = (n: string) => G(pname(l, n));
    // x_next = x2 + c_proj(gelu(c_fc(ln_2(x2))))
    const dx2 = dx.slice();
    const dg = new Float64Array(S * F);
    linearBwd(L.g, P_("mlp.c_proj.weight"), dx, S, F, D, dg, Gl("mlp.c_proj.weight"), Gl("mlp.c_proj.bias"));
    const dh = dg.map((v, i) => v * geluGrad(L.h[i]));
    const dn2 = new Float64Array(S * D);
    linearBwd(L.n2, P_("mlp.c_fc.weight"), dh, S, D, F, dn2, Gl("mlp.c_fc.weight"), Gl("mlp.c_fc.bias"));
    layerNormBwd(L.ln2, P_("ln_2.weight"), dn2, S, D, dx2, Gl("ln_2.weight"), Gl("ln_2.bias"));
    // x2 = x + c_proj(attn)
    const dxIn = dx2.slice();
    const dattn = new Float64Array(S * D);
    linearBwd(L.attn, P_("attn.c_proj.weight"), dx2, S, D, D, dattn, Gl("attn.c_proj.weight"), Gl("attn.c_proj.bias"));
    const dqkv = new Float64Array(S * 3 * D);
    for (let h = 0; h < H; h++)
      for (let i = 0; i < S; i++) {
        // dP_ij = dO_i · v_j ; dS = P (dP - sum_j P dP) ; dq_i = sum_j dS_ij k_j / √hd ; dk_j += dS_ij q_i / √hd ; dv_j += P_ij dO_i
        const dP = new Float64Array(i + 1);
        let rowDot = 0;
        for (let j = 0; j <= i; j++) {
          let d = 0;
          for (let e = 0; e < hd; e++) d += dattn[i * D + h * hd + e] * L.qkv[j * 3 * D + 2 * D + h * hd + e];
          dP[j] = d;
          rowDot += L.P[(h * S + i) * S + j] * d;
        }
        for (let j = 0; j <= i; j++) {
          const pij = L.P[(h * S + i) * S + j], dS = pij * (dP[j] - rowDot) / Math.sqrt(hd);
          for (let e = 0; e < hd; e++) {
            dqkv[i * 3 * D + h * hd + e] += dS * L.qkv[j * 3 * D + D + h * hd + e];
            dqkv[j * 3 * D + D + h * hd + e] += dS * L.qkv[i * 3 * D + h * hd + e];
            dqkv[j * 3 * D + 2 * D + h * hd + e] += pij * dattn[i * D + h * hd + e];
          }
        }
      }
    const da = new Float64Array(S * D);
    linearBwd(L.a, P_("attn.c_attn.weight"), dqkv, S, D, 3 * D, da, Gl("attn.c_attn.weight"), Gl("attn.c_attn.bias"));
    layerNormBwd(L.ln1, P_("ln_1.weight"), da, S, D, dxIn, Gl("ln_1.weight"), Gl("ln_1.bias"));
    dx = dxIn;
  }
  const dwte = G("transformer.wte.weight"), dwpe = G("transformer.wpe.weight");
  for (let s = 0; s < S; s++)
    for (let d = 0; d < D; d++) { dwte[tokens[s] * D + d] += dx[s * D + d]; dwpe[s * D + d] += dx[s * D + d]; }
  return grads;
}
