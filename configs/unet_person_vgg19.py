"""Person U-Net with a frozen ImageNet VGG19 encoder (nst_flax weights), on the embedded data.

Command:
  python train.py --config configs/unet_person_vgg19.py --workdir workdirs/unet_person_vgg19

The encoder (all of VGG19's convs, up to block5_conv4, 20.0 M parameters) stays frozen (no
backward pass through it); the decoder (skips from block1_conv2, block2_conv2, block3_conv4,
block4_conv4) and head train. `--config.optimizer.encoder_frozen_steps=300` fine-tunes the encoder
(at learning_rate * encoder_lr_factor) after 300 steps.

Measured on person_composite 7.0.0 (2 CPU cores, 2026-11-30): 600 steps in 12 min 23 s (0.81
steps/s, 58.3 GFLOP per step with the encoder's Winograd convs). Validation (200 held-out
composites): best IoU 0.743 (step 400), Dice 0.853, 1.0% of the pixels of the images without
people called person.

Real photos (experiments/eval_real.py; photos seen at 160 and 224 px, averaged): trained without
the VOC canteen (`--config.data.builder_config=voc_holdout`) it scores person IoU 0.659 on it
(seeds 1, 2: 0.656, 0.661; the reference model: 0.569); without the labelme photos
(`labelme_holdout`) 0.638 / 0.671 on them (reference 0.790 / 0.786). Of the 6 photos without
people, every run calls at most 1.3% of any person. It loses the torso of the footballer of
OpenCV's messi5.jpg (agreement with the reference 0.35); configs/unet_person.py, on MediaPipe's
person-segmentation network, keeps people whole on such photos.
"""
from configs import default


def get_config():
  config = default.get_config()
  config.model.update(encoder='vgg19', base_filters=16, depth=5, head_filters=16, dropout=0.0)
  config.data.image_size = 96
  config.batch_size = 8
  config.eval_batch_size = 8
  config.num_train_steps = 600
  config.eval_every_steps = 200
  config.checkpoint_every_steps = 100
  config.optimizer.learning_rate = 1e-3
  config.optimizer.warmup_steps = 50
  return config
