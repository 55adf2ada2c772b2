"""Times sentence-transformers (PyTorch) on benches/data/statements.txt.

Loads all-MiniLM-L6-v2 from the Hugging Face cache that scripts/fetch-model
fills (offline), then measures statements/s one at a time and in batches,
in fp32 and with bf16 autocast. Prints one JSON object per configuration.
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402


def timed(fn, n, min_seconds=3.0):
    fn()  # warm-up
    runs, start = 0, time.perf_counter()
    while True:
        fn()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return runs * n / elapsed


def main():
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else os.cpu_count()
    torch.set_num_threads(threads)
    path = os.path.join(os.path.dirname(__file__), "..", "benches", "data", "statements.txt")
    statements = [l.strip() for l in open(path) if l.strip()]
    model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
    model.eval()
    with torch.inference_mode():
        for name, batch, bf16 in [("one at a time", 1, False), ("batch 32", 32, False), ("batch 32 bf16", 32, True)]:
            items = statements[: max(batch, 32)]

            def run():
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    for i in range(0, len(items), batch):
                        model.encode(items[i : i + batch], batch_size=batch, normalize_embeddings=True)

            rate = timed(run, len(items))
            print(json.dumps({"engine": "pytorch", "config": name, "threads": threads,
                              "statements_per_s": round(rate, 1), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
