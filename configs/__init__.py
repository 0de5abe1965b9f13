"""ml_collections configs: `train.py --config configs/<name>.py` or `from configs import <name>`."""
