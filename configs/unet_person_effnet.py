"""Person U-Net with a frozen ImageNet EfficientNet-Lite0 encoder: the lighter alternative to the
VGG19 encoder of configs/unet_person_vgg19.py, measured against it on real photos.

Command:
  python train.py --config configs/unet_person_effnet.py --workdir workdirs/unet_person_effnet

EfficientNet-Lite0 (unet_flax/efficientnet.py; at depth 6 the U-Net takes its features at strides
2..32: 2.9 M of its parameters, of 6.0 M in all) frozen; the decoder, level 0's from-scratch skip
block and the head train. At 128 px a step is 34.4 GFLOP against the VGG19 U-Net's 58.3 at 96 px,
but it takes about as long on 2 CPU cores (600 steps: 737-804 s of steps, VGG19 693-873 s), so
XLA:CPU runs it at about half the VGG19 step's FLOP rate.

Real photos (2026-11-30, dataset 7.0.0, 600 steps, best checkpoint, photos seen at 160 + 224 px,
seeds 0/1/2; experiments/README.md), against the VGG19 recipe
(configs/unet_person_vgg19.py): labelme photos held out (`labelme_holdout`) 0.715 / 0.670,
0.569 / 0.678, 0.693 / 0.652 (mean 0.659 / 0.667; VGG19 0.641 / 0.674; reference model
0.790 / 0.786), level within the seeds' spread; the canteen held out (`voc_holdout`) 0.617, 0.614,
0.588 (mean 0.606; VGG19 0.659; reference 0.569), lower in every seed; every run under 2% on every
photo without people (worst 1.6%, the buses). Validation IoU on composites is higher
(`labelme_holdout` runs 0.80-0.82 against 0.74-0.75), which the real photos do not bear out. So
the ImageNet recipe keeps the VGG19 encoder; this config is the measured alternative.
"""
from configs import unet_person_vgg19 as unet_person


def get_config():
  config = unet_person.get_config()
  config.model.update(encoder='efficientnet_lite0', depth=6)
  config.data.image_size = 128
  return config
