"""``python -m ase_e3density.train CONFIG.yaml [--restart]`` (also the torchrun entry point)."""
import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
