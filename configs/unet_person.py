"""Main job: person U-Net with a frozen ImageNet VGG19 encoder (nst_flax weights), embedded data.

Command:
  python train.py --config configs/unet_person.py --workdir workdirs/unet_person

The encoder (VGG19 up to block4_conv4, 10.6 M parameters) stays frozen (no backward pass through
it); the decoder (skips from block1_conv2, block2_conv2, block3_conv4) and head train. Its
ImageNet features are what make the masks hold up on real photos: the from-scratch U-Net of
configs/unet_scratch.py sees only 5 real people in training. `--config.optimizer.
encoder_frozen_steps=300` fine-tunes the encoder (at learning_rate * encoder_lr_factor) after
300 steps (then a backward pass through the encoder is computed too).

Measured (2 CPU cores shared with other jobs, load 8-13): 36 min wall / 15.5 CPU-min for the
600 steps (72.8 GFLOP per step). Idle machine: 1.19 steps/s, so ~8.5 min of steps and ~10 min
in all (an 80-step run of this config took 98 s end to end). Validation IoU 0.691
at step 200 (the best checkpoint), 0.661 at step 600; Dice 0.817 / 0.796.
"""
from configs import unet_scratch


def get_config():
  config = unet_scratch.get_config()
  config.model.update(encoder='vgg19', base_filters=16, depth=4, head_filters=16, dropout=0.0)
  config.data.image_size = 96
  config.batch_size = 8
  config.eval_batch_size = 8
  config.num_train_steps = 600
  config.eval_every_steps = 200
  config.checkpoint_every_steps = 100
  config.optimizer.learning_rate = 1e-3
  config.optimizer.warmup_steps = 50
  return config
