"""Throughput of the encoder's training step: one process with N torch threads, or
several one-thread processes at once (is a CPU study faster as parallel cells?).

usage: python scripts/bench_threads.py ENCODER_DIR THREADS SECONDS
  e.g. run 2 threads alone, 1 thread alone, then two 1-thread copies at once:
  python scripts/bench_threads.py assets/encoder 2 20
  python scripts/bench_threads.py assets/encoder 1 20
  python scripts/bench_threads.py assets/encoder 1 20 & python scripts/bench_threads.py assets/encoder 1 20; wait

One step: forward and backward of the whole encoder on a batch of 8 x 48 random piece
ids, AdamW over every parameter (heavier than a teacher step, whose embeddings and
bottom 3 layers are frozen). Prints steps per second.
"""

import sys
import time

import torch
from transformers import AutoModel


def main(encoder: str, threads: int, seconds: float) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = AutoModel.from_pretrained(encoder, add_pooling_layer=False)
    ids = torch.randint(5, 20000, (8, 48))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def step() -> None:
        model(input_ids=ids).last_hidden_state.pow(2).mean().backward()
        opt.step()
        opt.zero_grad()

    step()  # warm-up
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    print(f"{threads} thread(s): {n / (time.perf_counter() - start):.3f} steps/s")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
