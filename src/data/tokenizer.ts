/**
 * Tokenizers. The byte tokenizer maps UTF-8 bytes to ids 0..255 (any text round-trips). Other
 * kinds (character-level, llama2.c tokenizer.bin, Hugging Face BPE) plug in behind the same
 * interface. Encoding and decoding run natively (TextEncoder/TextDecoder), never per element.
 */
export interface Tokenizer {
  readonly kind: string;
  readonly vocabSize: number;
  encode(text: string): Uint16Array | Uint32Array;
  decode(ids: ArrayLike<number>): string;
  /** UTF-8 bytes each id stands for (for bits per byte). */
  tokenBytes(): Float64Array;
  /** What a checkpoint stores to rebuild it. */
  describe(): Record<string, unknown>;
}

export class ByteTokenizer implements Tokenizer {
  readonly kind = "byte";
  readonly vocabSize = 256;
  encode(text: string): Uint16Array {
    return Uint16Array.from(new TextEncoder().encode(text));
  }
  decode(ids: ArrayLike<number>): string {
    return new TextDecoder("utf-8", { fatal: false }).decode(Uint8Array.from(ids as ArrayLike<number>));
  }
  tokenBytes(): Float64Array { return new Float64Array(256).fill(1); }
  describe(): Record<string, unknown> { return { kind: "byte" }; }
}

export function tokenizerFor(kind: string): Tokenizer {
  if (kind === "byte") return new ByteTokenizer();
  throw new Error(`tokenizer '${kind}' cannot be built from text here: pass a tokenizer file (coming with rustane generate) or pre-tokenized data`);
}
