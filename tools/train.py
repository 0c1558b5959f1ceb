"""Train a model from a config. Usage: python tools/train.py CONFIG [options]

See ``python tools/train.py -h``; the logic lives in :mod:`lkmm.apis`.
"""
import lkmm  # noqa: F401  (registers lkmm, safe checkpoint loading)
from lkmm.apis import train_main

if __name__ == '__main__':
    train_main()
