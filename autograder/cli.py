"""The ``backprop-course`` console command: one subcommand per step of running the course."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from course_lib import __version__

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="backprop-course",
        description="Run the backpropagation course: the demo, and the instructor's grading steps.",
    )
    parser.add_argument("--version", action="version", version=f"backprop-course {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="train the notes' multi-path network and print the loss and a gradient table",
        description="Train the lecture notes' multi-path network (2 inputs -> 3 sigmoid units -> 2 sigmoid "
        "outputs) by gradient descent with gradients from the computation graph, then print a table "
        "comparing backprop's gradient with finite differences for every parameter.",
    )
    demo.add_argument("--steps", type=int, default=300, help="gradient-descent steps (default 300)")
    demo.add_argument("--lr", type=float, default=2.0, help="learning rate η (default 2.0)")
    demo.add_argument("--seed", type=int, default=0, help="seed for the data and the initial weights")
    demo.set_defaults(run=_run_demo)
    return parser


def _run_demo(args: argparse.Namespace) -> int:
    from autograder.training_demo import run_training_demo

    return run_training_demo(steps=args.steps, lr=args.lr, seed=args.seed)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv`` and run the chosen subcommand; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
