"""Would training the seeds of a cell together (jax.vmap over seeds) be faster than one by one?

  python experiments/measure_vmap_seeds.py [--seeds 2] [--seconds 10] [--rounds 3]

For cells of configs/ablation_cpu.py (its resolution and batch: 64x64, batch 16; the figures in
experiments/README.md were measured when it was 32x32), times `seeds` sequential calls of the
real jitted train step (`unet_flax.train.make_train_step`, one state per seed) against one call
of the same step `jax.vmap`-ed over a stacked state and stacked batches. Rounds alternate
(sequential, vmapped, ...); the best round of each is reported (the least disturbed by other
processes). Prints ms per step *per seed* for both, and the ratio.
"""
from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from configs import ablation_cpu
from unet_flax import models, train


def _time(fn, seconds: float) -> float:
  """Seconds per call: repeat fn for at least `seconds`."""
  fn()
  start, calls = time.perf_counter(), 0
  while time.perf_counter() - start < seconds:
    fn()
    calls += 1
  return (time.perf_counter() - start) / calls


def measure(filters: int, depth: int, seeds: int, seconds: float, rounds: int) -> dict:
  config = ablation_cpu.get_config().base
  config.model.update(base_filters=filters, head_filters=filters, depth=depth)
  size, batch = config.data.image_size, config.batch_size
  model = models.create_model(config.model)
  tx = train.create_optimizer(config.optimizer, config.num_train_steps)
  states = [train.create_train_state(model, tx, jax.random.key(s), size) for s in range(seeds)]
  rng = np.random.default_rng(0)
  batches = [{'image': jnp.asarray(rng.random((batch, size, size, 3), np.float32)),
              'mask': jnp.asarray((rng.random((batch, size, size, 1)) > 0.7).astype(np.float32))}
             for _ in range(seeds)]
  step = train.make_train_step(model, config.loss, jax.random.key(0))
  single = jax.jit(step)
  vmapped = jax.jit(jax.vmap(step))
  stacked_state = jax.tree.map(lambda *x: jnp.stack(x), *states)
  stacked_batch = jax.tree.map(lambda *x: jnp.stack(x), *batches)

  def run_sequential():
    for s, b in zip(states, batches):
      out = single(s, b)
    jax.block_until_ready(out)

  def run_vmapped():
    jax.block_until_ready(vmapped(stacked_state, stacked_batch))

  sequential, together = [], []
  for _ in range(rounds):
    sequential.append(_time(run_sequential, seconds) / seeds)
    together.append(_time(run_vmapped, seconds) / seeds)
  return {'filters': filters, 'depth': depth, 'seeds': seeds,
          'sequential_ms': 1000 * min(sequential), 'vmapped_ms': 1000 * min(together)}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  parser.add_argument('--seeds', type=int, default=2, help='seeds trained per cell')
  parser.add_argument('--seconds', type=float, default=10.0, help='timed seconds per round')
  parser.add_argument('--rounds', type=int, default=3, help='interleaved timing rounds')
  parser.add_argument('--cells', default='8x2,8x3,16x3,32x3', help='filters x depth, comma-separated')
  args = parser.parse_args()
  print(f'{jax.device_count()} x {jax.devices()[0].platform}, load average '
        f'{os.getloadavg()[0]:.1f}; ms per train step per seed (best of {args.rounds} rounds)')
  print('| filters | depth | seeds | sequential | vmap over seeds | vmap / sequential |')
  print('|---:|---:|---:|---:|---:|---:|')
  for cell in args.cells.split(','):
    f, d = (int(v) for v in cell.split('x'))
    r = measure(f, d, args.seeds, args.seconds, args.rounds)
    print(f"| {f} | {d} | {args.seeds} | {r['sequential_ms']:.1f} | {r['vmapped_ms']:.1f} "
          f"| {r['vmapped_ms'] / r['sequential_ms']:.2f} |", flush=True)
  print(f'load average after: {os.getloadavg()[0]:.1f}')


if __name__ == '__main__':
  main()
