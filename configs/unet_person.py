"""Main job: person U-Net with a frozen ImageNet VGG19 encoder (nst_flax weights), embedded data.

Command:
  python train.py --config configs/unet_person.py --workdir workdirs/unet_person

The encoder (all of VGG19's convs, up to block5_conv4, 20.0 M parameters) stays frozen (no
backward pass through it); the decoder (skips from block1_conv2, block2_conv2, block3_conv4,
block4_conv4) and head train. Its ImageNet features are what make the masks hold up on real
photos: the from-scratch U-Net of configs/unet_scratch.py sees only 5 real people in training.
`--config.optimizer.encoder_frozen_steps=300` fine-tunes the encoder (at learning_rate *
encoder_lr_factor) after 300 steps (then a backward pass through the encoder is computed too).

Measured on person_composite 7.0.0 (2 CPU cores, 2026-11-30): 600 steps in 12 min 23 s of
steps (0.81 steps/s, 58.3 GFLOP per step with the encoder's Winograd convs; this machine runs
slower than stop 15's, on which 5.0.0 took 8 min 10 s at 1.2 steps/s); the README command from a
fresh clone took 15 min 1 s (install and dataset build included; weights and photos cached); run
again, it resumes and re-evaluates in 68 s. Validation (200 held-out composites: 2 unseen VOC
people on 6 unseen backgrounds, 20% without people; ground truth only): best IoU 0.743 (step
400; 0.738 at step 600), Dice 0.853, 1.0% of the pixels of the images without people called
person. (On 6.0.0: 0.777; on 5.0.0: 0.768; on 4.0.0: 0.744; on 3.0.0: 0.707; on 2.0.0, without
the buses photo among the validation backgrounds: 0.770; depth 4: 0.606.)

Real photos (experiments/eval_real.py; README "Real photos"; photos seen at 160 and 224 px,
averaged): trained without the VOC canteen (`--config.data.builder_config=voc_holdout`) it scores
person IoU 0.659 on it (the reference model: 0.569; seeds 1, 2: 0.656, 0.661); without the
labelme photos (`labelme_holdout`) 0.638 / 0.671 on them (reference 0.790 / 0.786; seeds 1, 2:
0.622 / 0.682, 0.662 / 0.669). Of the 6 photos without people, every run calls at most 1.3% of
any person (this config trained on all data: 0.6%; the reference model: 93% of the cat photo).
The EfficientNet-Lite0 alternative, configs/unet_person_effnet.py, measured the same way at
stop 21: labelme photos level (mean 0.659 / 0.667), canteen lower in every seed (mean 0.606).
"""
from configs import unet_scratch


def get_config():
  config = unet_scratch.get_config()
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
