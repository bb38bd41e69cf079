// GenerativeModel over a created libane Decoder: what every family's opener returns.
import type { Decoder } from "../ffi/decode-ops.ts";
import type { ModelConfig } from "../model/config.ts";
import type { GenerativeModel } from "./model.ts";
import type { KernelPrefill } from "./kernel-prefill.ts";

/** GenerativeModel over a created Decoder (prefill resets the cache by running from position 0).
 *  `prefiller`, when given, runs prompts elsewhere (compiled kernels on a backend) and fills the
 *  decoder's cache; decoding stays on the decoder. */
export function decoderModel(c: ModelConfig, maxSeq: number, decoder: Decoder, prefiller?: KernelPrefill): GenerativeModel {
  const logits = new Float32Array(c.vocab_size);
  const one = new Int32Array(1);
  return {
    config: c,
    maxSeq,
    weights: decoder.config.weights,
    prefill(tokens) {
      if (prefiller && tokens.length >= prefiller.minTokens) prefiller.run(tokens, decoder, logits);
      else decoder.step(tokens, 0, logits);
      return logits;
    },
    decodeStep(token, pos) {
      one[0] = token;
      decoder.step(one, pos, logits);
      return logits;
    },
    weightBytesPerToken: () => decoder.weightBytesPerToken(),
    close: () => { prefiller?.close(); decoder.close(); },
    [Symbol.dispose]: () => { prefiller?.close(); decoder.close(); },
  };
}
