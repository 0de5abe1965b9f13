"""Gatys et al. neural style transfer on ImageNet VGG19 weights, in JAX/Flax."""
from nst_flax import xla_cpu as _xla_cpu

_xla_cpu.enable_ynnpack_dots()  # before JAX starts its CPU backend; see nst_flax/xla_cpu.py
