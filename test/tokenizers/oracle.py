"""Reference encodings for the tokenizer tests, from the libraries the formats come from.

stdin: {"kind": "sentencepiece" | "hf", "path": ..., "texts": [...]}
stdout: {"ids": [[...], ...], "decoded": [...]}   (decoded: the library's decode of its own ids)
Exit 3 with a message on stderr when the library is not installed.
"""
import json
import sys

req = json.load(sys.stdin)
try:
    if req["kind"] == "sentencepiece":
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=req["path"])
        ids = [sp.encode(t) for t in req["texts"]]
        decoded = [sp.decode(i) for i in ids]
    else:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(req["path"])
        ids = [tok.encode(t, add_special_tokens=False).ids for t in req["texts"]]
        decoded = [tok.decode(i, skip_special_tokens=False) for i in ids]
except ImportError as e:
    print(f"python package missing: {e.name} (pip install sentencepiece tokenizers)", file=sys.stderr)
    sys.exit(3)
json.dump({"ids": ids, "decoded": decoded}, sys.stdout)
