"""A functional Flax U-Net for person segmentation: model, data, trainer, checkpoints, prediction."""
from nst_flax import xla_cpu as _xla_cpu

_xla_cpu.enable_ynnpack_dots()  # before JAX starts its CPU backend; see nst_flax/xla_cpu.py
