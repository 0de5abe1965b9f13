"""Person U-Net with a frozen ImageNet EfficientNet-Lite0 encoder: the faster alternative to the
main job's VGG19 encoder (configs/unet_person.py), measured against it on real photos.

Command:
  python train.py --config configs/unet_person_effnet.py --workdir workdirs/unet_person_effnet

EfficientNet-Lite0 (unet_flax/efficientnet.py; at depth 6 the U-Net takes its features at strides
2..32: 2.9 M of its parameters, of 6.0 M in all) frozen; the decoder, level 0's from-scratch skip
block and the head train. At 128 px a step is 34.4 GFLOP, under half the depth-4 VGG19 U-Net's
72.8 at 96 px (before its Winograd convs; frozen, 96 px, depth 4 both: 408 against 1253 ms per
step on 2 shared cores).

Real-photo benchmark (experiments/eval_real.py, trained on `person_composite/voc_holdout`, 600
steps; experiments/results/eval_real/): VOC photo person IoU 0.363 against the VGG19 encoder's
0.432 at depth 5 (0.425 at depth 4; the reference model: 0.569), but fewer false positives on
photos without people (6.0% mean / 28.4% worst, VGG19 depth 5 10.3% / 51.7%). The same at 160 px scored lower (IoU 0.298).
"""
from configs import unet_person


def get_config():
  config = unet_person.get_config()
  config.model.update(encoder='efficientnet_lite0', depth=6)
  config.data.image_size = 128
  return config
