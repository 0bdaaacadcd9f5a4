"""python -m cnn_demo COMMAND [ARGS]: the engine's one command line (as `python -m pip` works).

python -m cnn_demo train --recipe quick     # train a network, save a checkpoint
python -m cnn_demo evaluate FILE            # test accuracy of a checkpoint
python -m cnn_demo COMMAND --help           # each command's own options
"""

import importlib
import sys

# command -> (module, what it does); a module is imported only when its command runs, so that
# `calibrate` or `checkpoint` starts without importing the whole engine.
COMMANDS = {
    "train": ("cnn_demo.training.train", "train a network on MNIST and save it"),
    "evaluate": ("cnn_demo.training.evaluate", "a checkpoint's test accuracy and confusion matrix"),
    "bench": ("cnn_demo.training.bench", "the tutorial's training pipeline against this one"),
    "calibrate": ("cnn_demo.training.calibrate", "measure this machine's fastest training settings"),
    "experiments": ("cnn_demo.experiments.claims", "the tutorial's claims, measured"),
    "inspect": ("cnn_demo.inside.inspect", "each stage's shape and arithmetic for one image"),
    "similar": ("cnn_demo.inside.similar", "training images nearest in the hidden layer"),
    "drawn": ("cnn_demo.drawings.drawn", "accuracy on digits drawn stroke by stroke, as on the canvas"),
    "data": ("cnn_demo.storage.data", "check the MNIST file and count its digits"),
    "store": ("cnn_demo.storage.store", "list the saved models"),
    "checkpoint": ("cnn_demo.storage.checkpoint", "print a checkpoint's metadata"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:{width}}  {what}" for name, (_, what) in COMMANDS.items()]
    return "usage: python -m cnn_demo COMMAND [ARGS]\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return module.main(rest) or 0


if __name__ == "__main__":
    sys.exit(main())
