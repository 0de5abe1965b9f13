"""XLA:CPU for both packages: dots and convolutions through YNNPACK; whether the CPU has AMX.

`--xla_cpu_experimental_ynn_fusion_type=individual_dot` hands XLA:CPU's dots to YNNPACK (XNNPACK's
successor), which also takes the contractions that XLA:CPU lowers convolutions to. Measured on 2
cores (jax 0.10.2, benchmarks/README.md): the NST step at 256 px went from 1.08 to 0.76 s and the
U-Net train step of the seed model at 128 px from 1.5 to ~5 images/s, with the same losses to 4
digits. It only affects the CPU backend. It is appended to XLA_FLAGS when a package is imported,
so it must happen before JAX starts its backend (the first computation); an XLA_FLAGS that already
sets the option (e.g. `--xla_cpu_experimental_ynn_fusion_type=` to turn it off) is left alone.
"""
import functools
import os

YNN_OPTION = '--xla_cpu_experimental_ynn_fusion_type'
YNN_DOTS = f'{YNN_OPTION}=individual_dot'


def enable_ynnpack_dots() -> None:
  flags = os.environ.get('XLA_FLAGS', '')
  if YNN_OPTION not in flags:
    os.environ['XLA_FLAGS'] = f'{flags} {YNN_DOTS}'.strip()


@functools.lru_cache(maxsize=None)  # read once, not for every photo styled
def has_amx_bf16(cpuinfo: str = '/proc/cpuinfo') -> bool:
  """Whether this CPU multiplies bfloat16 matrices in AMX tiles (Intel Sapphire Rapids and
  later; Linux's `amx_bf16` flag): measured 1330 against 340 GFLOP/s for float32 on 2 cores."""
  try:
    with open(cpuinfo) as f:
      return any(line.startswith('flags') and 'amx_bf16' in line.split() for line in f)
  except OSError:
    return False
