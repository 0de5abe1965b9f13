"""How both packages compile: JAX's persistent compilation cache, and one-shot programs.

A later run of the same program loads its compiled executables instead of compiling them again
(measured: the first NST step at 256 px came 14 s -> 5 s after start). Environment variables win
(the tests point JAX_COMPILATION_CACHE_DIR at a per-session directory).

One-shot programs. On a GPU, XLA autotunes each convolution and matmul while it compiles (times
candidate kernels). That pays for a program that runs thousands of times (a training step), not
for one that runs once per photo: the person mask (`unet_flax.predict`; on an H200, 2026-11-30:
4.7 s against 49.5 s) and the style-transfer targets and background masks (`nst_flax.transfer`;
2026-12-04: 8.2 s against 15.1 s, and 0.8 s against 12 s) compile with
`ONE_SHOT_COMPILER_OPTIONS`. The style-transfer loop keeps autotuning: without it (H200,
2026-12-04, 512 px, 80 L-BFGS iterations, direct convolutions) its compile took 4.2 s instead of
12.9 s, but each iteration 0.87 s instead of a few ms. CPUs ignore the option.
"""
import os

# No GPU autotuning: the default algorithm per convolution and matmul, picked without timing.
ONE_SHOT_COMPILER_OPTIONS = {'xla_gpu_autotune_level': 0}

DEFAULT_DIR = os.path.join(os.path.expanduser('~'), '.cache', 'jax_compilation_cache')


def enable_compilation_cache(directory: str | None = None) -> None:
  """Caches every compilation under `directory` ($JAX_COMPILATION_CACHE_DIR, else
  ~/.cache/jax_compilation_cache): the short ones too, since on a GPU a photo's many small
  programs add up to seconds of a warm run (an H200, 2026-12-04: the mask of a 512-px photo
  on a warm cache 4.2 s with only the compilations of a second or more cached, 1.9 s with all)."""
  import jax  # pylint: disable=g-import-not-at-top
  try:
    if not os.environ.get('JAX_COMPILATION_CACHE_DIR'):
      directory = directory or DEFAULT_DIR
      os.makedirs(directory, exist_ok=True)
      jax.config.update('jax_compilation_cache_dir', directory)
    if not os.environ.get('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'):
      jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
    jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)
  except OSError:  # a read-only home: run without the cache
    pass
