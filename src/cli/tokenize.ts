// `rustane tokenize`: text to ids, or ids (--decode) to text, with any tokenizer rustane reads.
import { Command, Option } from "clipanion";
import { loadTokenizer, type Tokenizer } from "../data/tokenizer.ts";
import { RustaneCommand, usageError } from "./base.ts";

/** "1, 2 3" -> [1, 2, 3]; anything but ids separated by commas or whitespace is a usage error. */
export function parseIds(text: string): number[] {
  const parts = text.split(/[\s,]+/).filter((p) => p !== "");
  return parts.map((p, i) => {
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(Number(p))) throw usageError(`--decode: "${p}" (item ${i + 1}) is not a token id (non-negative integers separated by commas or spaces)`);
    return Number(p);
  });
}

export class TokenizeCommand extends RustaneCommand {
  static paths = [["tokenize"]];
  static usage = Command.Usage({
    description: "encode text to token ids, or decode ids to text",
    details: "The tokenizer is byte (UTF-8 bytes), char (tab, newline, printable ASCII), a llama2.c tokenizer.bin or a Hugging Face tokenizer.json (byte-level BPE). Prints the ids on one line, space-separated; --decode prints the text; --json prints {ids, tokens} (and text).",
    examples: [
      ["ids of a text", "$0 tokenize --tokenizer tokenizer.bin \"Once upon a time\""],
      ["with the tokens, as JSON", "$0 tokenize --tokenizer tokenizer.json --json \"Hello, world!\""],
      ["ids back to text", "$0 tokenize --tokenizer tokenizer.bin --decode 1,9038,2501"],
    ],
  });

  tokenizer = Option.String("--tokenizer", "byte", { description: "byte, char, or a tokenizer.bin / tokenizer.json file (default byte)" });
  decode = Option.String("--decode", { description: "token ids (separated by commas or spaces) to decode instead of encoding TEXT" });
  json = Option.Boolean("--json", false, { description: "print {ids, tokens, text} as JSON" });
  bos = Option.Boolean("--bos", false, { description: "start with the tokenizer's BOS id" });
  eos = Option.Boolean("--eos", false, { description: "end with the tokenizer's EOS id" });
  text = Option.String({ name: "TEXT", required: false });

  async run(): Promise<number> {
    if (this.decode !== undefined && this.text !== undefined) throw usageError("give either TEXT to encode or --decode IDS, not both");
    if (this.decode === undefined && this.text === undefined) throw usageError("nothing to do: give TEXT to encode or --decode IDS");
    let tok: Tokenizer;
    try { tok = loadTokenizer(this.tokenizer); }
    catch (e) { throw usageError(`--tokenizer: ${(e as Error).message}`); }
    let ids: number[];
    let text: string;
    if (this.decode !== undefined) {
      ids = parseIds(this.decode);
      try { text = tok.decode(ids); }
      catch (e) { throw usageError(`--decode: ${(e as Error).message}`); }
    } else {
      text = this.text!;
      try { ids = Array.from(tok.encode(text, { bos: this.bos, eos: this.eos })); }
      catch (e) { throw usageError((e as Error).message); }
    }
    const out = this.context.stdout;
    if (this.json) out.write(JSON.stringify({ ids, tokens: ids.map((id) => tok.token(id)), text }) + "\n");
    else if (this.decode !== undefined) out.write(text + "\n");
    else out.write(ids.join(" ") + "\n");
    return 0;
  }
}
