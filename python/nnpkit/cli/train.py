"""`nnpkit train CONFIG`: train a model (or a committee) from a YAML or TOML config."""

from __future__ import annotations

import argparse
import os


def _train(args: argparse.Namespace) -> int:
    from ..train import load_config, train
    from ..train.report import format_metrics

    config = load_config(args.config)
    if args.output is not None:
        config.output.directory = os.path.abspath(args.output)  # relative to where the command runs
    if args.epochs is not None:
        config.training.epochs = args.epochs
    if args.dtype is not None:
        config.training.dtype = args.dtype
    if args.seed is not None:
        config.training.seed = args.seed
    if args.no_progress:
        config.training.progress = False
    result = train(config, resume=args.resume, committee=args.committee, force=args.force)
    print(open(f"{config.output_directory}/report.txt").read(), end="")
    if result.evaluation is not None:
        print(f"{result.evaluation_set}: {format_metrics(result.evaluation)}")
    print(f"wrote {result.model_path}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a model or committee on reference energies and forces")
    p.add_argument("config", help="training config (.yaml, .yml or .toml); see docs/training.md")
    p.add_argument("--committee", type=int, metavar="M",
                   help="train M members (different seeds and splits) into one committee model file")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints in the output folder")
    p.add_argument("--force", action="store_true", help="overwrite an existing model file in the output folder")
    p.add_argument("--output", help="output folder (overrides output.directory)")
    p.add_argument("--epochs", type=int, help="overrides training.epochs")
    p.add_argument("--dtype", choices=["float32", "float64"], help="overrides training.dtype")
    p.add_argument("--seed", type=int, help="overrides training.seed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)
