"""Command line: `python -m nst_flax --content photo.jpg --style painting.jpg --out out.png`.

Options: `--style` may repeat (several styles, blended by `--style_weights`); `--mask` gives a
person mask for `--config.guided_style=True`; `--snapshots_dir` with
`--config.snapshot_every=K` writes the image every K steps; `--config` (default
configs/nst_default.py) with `--config.x=y` overrides. Errors print one `error: ...` line and
exit with status 1.
"""
from __future__ import annotations

import os
import sys
import time

from nst_flax import compilation_cache

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CONFIG = os.path.join(_REPO, "configs", "nst_default.py")


def define_flags():
    """The style-transfer flags; `stylize.py` defines these and adds its own."""
    from absl import flags
    from ml_collections import config_flags

    flags.DEFINE_string("content", None, "Content image (the photo).")
    flags.DEFINE_multi_string("style", None, "Style image(s) (paintings); repeat for several.")
    flags.DEFINE_list("style_weights", None, "Blend weights of the style images, e.g. 0.7,0.3.")
    flags.DEFINE_string("out", "stylized.png", "Output image path (.png or .jpg).")
    flags.DEFINE_string("mask", None, "Person mask (white = person) for guided style.")
    flags.DEFINE_string("snapshots_dir", None,
                        "Write snapshots here every config.snapshot_every steps.")
    if os.path.exists(DEFAULT_CONFIG):
        config_flags.DEFINE_config_file("config", DEFAULT_CONFIG, "Style-transfer config file.",
                                        lock_config=True)
    else:  # installed without the repo's configs/: use the packaged defaults
        from nst_flax.config import get_default_config
        config_flags.DEFINE_config_dict("config", get_default_config(),
                                        "Style-transfer config.", lock_config=True)
    return flags.FLAGS


HELP_ARGS = ("-h", "-?", "--help", "--helpshort", "--helpfull")


def help_requested(argv) -> bool:
    """Whether the command line asks for help (the flags are parsed without absl's `app.run`,
    which would define the help flags)."""
    return any(a in HELP_ARGS for a in argv[1:])


def print_help(FLAGS, doc) -> int:
    """Prints `doc` and every flag of the program (not absl's own) with its default; returns 0."""
    print(doc.strip())
    print("\nflags:")
    program_flags = [f for module, fs in FLAGS.flags_by_module_dict().items()
                     if not module.startswith("absl.") for f in fs]
    for flag in sorted(program_flags, key=lambda f: f.name):
        default = flag.default_as_str if flag.name != "config" else "configs/nst_default.py"
        print(f"  --{flag.name}: {flag.help} (default: {default})")
    print("\n  --config.KEY=VALUE overrides one field of the config.")
    return 0


def enable_compilation_cache(cfg):
    """JAX's persistent compilation cache (if cfg.compilation_cache)."""
    if cfg.compilation_cache:
        compilation_cache.enable_compilation_cache()


def parse_style_weights(values, num_styles):
    """--style_weights strings -> floats (None: equal weights), checked against the styles."""
    if not values:
        return None
    try:
        sw = [float(v) for v in values]
    except ValueError:
        raise ValueError(f"--style_weights must be numbers, got {values}")
    if len(sw) != num_styles:
        raise ValueError(f"{num_styles} --style images but {len(sw)} --style_weights")
    return sw


def report_error(e, config_error=False):
    """Prints one `error: ...` line for a user error and returns the exit status 1."""
    msg = str(e).strip().strip('"').splitlines()
    text = msg[0] if msg else type(e).__name__
    if any(line.startswith("Traceback") for line in msg):  # a config file's own error
        text = f"{text.rstrip(':')}: {msg[-1].strip()}"
    if config_error:
        what = "unknown config field " if isinstance(e, (KeyError, AttributeError)) else ""
        text = f"bad --config option: {what}{text}"
    print(f"error: {text}", file=sys.stderr)
    return 1


def run(FLAGS) -> int:
    import numpy as np

    from nst_flax import image_io, transfer, weights

    cfg = FLAGS.config
    if not FLAGS.content:
        raise ValueError("--content is required (the photo to stylise)")
    if not FLAGS.style:
        raise ValueError("--style is required (one or more paintings)")
    enable_compilation_cache(cfg)
    # Validate the config (layer names, presets, ...) before any slow work.
    transfer.loss_spec_from_config(cfg)
    limit = int(cfg.max_input_pixels) if cfg.max_input_pixels else None
    content = image_io.load_image(FLAGS.content, max_pixels=limit)
    styles = [image_io.load_image(p, max_pixels=limit) for p in FLAGS.style]
    sw = parse_style_weights(FLAGS.style_weights, len(styles))
    mask = image_io.load_mask(FLAGS.mask, content.shape[:2]) if FLAGS.mask else None
    out_ext = os.path.splitext(FLAGS.out)[1].lower()
    if out_ext not in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"):
        raise ValueError(f"{FLAGS.out}: output must end in .png or .jpg")
    params = weights.load_vgg19_params(cfg.weights)
    snap = None
    if FLAGS.snapshots_dir and cfg.snapshot_every > 0:
        os.makedirs(FLAGS.snapshots_dir, exist_ok=True)

        def snap(step, img):
            image_io.save_image(os.path.join(FLAGS.snapshots_dir, f"step_{step:05d}.png"), img)
    t0 = time.perf_counter()
    image, hist = transfer.transfer_style(params, content, styles, sw, cfg, content_mask=mask,
                                          snapshot=snap)
    image_io.save_image(FLAGS.out, image)
    last = {n: float(hist[n][-1]) for n in transfer.TERM_NAMES if len(hist[n])}
    print(f"wrote {FLAGS.out} ({image.shape[1]}x{image.shape[0]}) in "
          f"{time.perf_counter() - t0:.0f} s; final losses "
          + " ".join(f"{k} {v:.4g}" for k, v in last.items() if np.isfinite(v)), flush=True)
    return 0


def main(argv=None):
    from absl import app, flags

    argv = sys.argv if argv is None else argv
    try:
        FLAGS = define_flags()
        if help_requested(argv):
            return print_help(FLAGS, __doc__)
        FLAGS(argv)
    except flags.Error as e:
        return report_error(e)
    except (ValueError, OSError, KeyError, AttributeError) as e:  # bad --config / override
        return report_error(e, config_error=True)
    try:
        return run(FLAGS)
    except (ValueError, OSError) as e:
        return report_error(e)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
