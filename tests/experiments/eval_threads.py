"""Experiment: does evaluation need torch on one thread?

Not a test. Builds tiny-vla networks (random weights, seed 0) in state and image mode and
asks each for action chunks on one fixed batch of inputs with torch on 1 thread and on
``--threads`` threads, ``--repeats`` times each. Prints, per mode and batch size, whether
the chunks are bit-identical across thread counts and the median seconds per call. Bits
matter because evaluation results carry ``actions_sha256`` and must not depend on which
executor (in this process, or a Ray worker with its own thread count) ran the job.

    nice -n 5 python tests/experiments/eval_threads.py --threads 2 --repeats 20
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from diffrl_eval import constants as C
from vla.tiny_vla.hparams import TinyVLAHparams, default_hparams
from vla.tiny_vla.model import OBJECT_MASK, OBJECTS, SLOT_DIM, TinyVLANetwork
from vla.tiny_vla.observation import ObservationLayout


def _inputs(layout: ObservationLayout, batch: int, rng: np.random.Generator) -> dict:
    inputs = {C.OBS_STATE: torch.from_numpy(rng.standard_normal((batch, C.STATE_DIM),
                                                                dtype=np.float32))}
    if layout.mode == "state":
        width = layout.max_objects * SLOT_DIM
        inputs[OBJECTS] = torch.from_numpy(rng.standard_normal((batch, width), dtype=np.float32))
        inputs[OBJECT_MASK] = torch.ones((batch, layout.max_objects))
    else:
        for camera in layout.cameras:
            inputs[camera] = torch.from_numpy(rng.integers(
                0, 256, (batch, layout.image_size, layout.image_size, 3), dtype=np.uint8))
    return inputs


@torch.no_grad()
def _chunks(network, inputs, table, index, threads: int, repeats: int):
    torch.set_num_threads(threads)
    times, out = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        out = network.head.sample(network.features(inputs, table, index)).numpy()
        times.append(time.perf_counter() - started)
    return out, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 25])
    args = parser.parse_args()
    hp = TinyVLAHparams.from_dict(default_hparams("full"))
    rng = np.random.default_rng(0)
    print("mode   batch  identical  s/call 1 thread  s/call N threads")
    for layout in (ObservationLayout("state", hp.max_objects),
                   ObservationLayout("image", hp.max_objects, C.CAMERA_KEYS, hp.image_size)):
        torch.manual_seed(0)
        network = TinyVLANetwork(hp, layout, C.ACTION_DIM).eval()
        table = torch.randn(3, 384)
        for batch in args.batches:
            inputs = _inputs(layout, batch, rng)
            index = torch.randint(0, 3, (batch,))
            one, t_one = _chunks(network, inputs, table, index, 1, args.repeats)
            many, t_many = _chunks(network, inputs, table, index, args.threads, args.repeats)
            print(f"{layout.mode:6} {batch:5}  {np.array_equal(one, many)!s:9}  "
                  f"{t_one:15.4f}  {t_many:16.4f}  (N = {args.threads})")


if __name__ == "__main__":
    main()
