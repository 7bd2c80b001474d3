"""Command line: ``deepgnn <command>``. Each command calls library functions; no logic lives here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated ints such as 2,4,8, got {text!r}"
        ) from None


def _demo(args: argparse.Namespace) -> int:
    import torch

    import deepgnn

    ds = deepgnn.data.load(args.dataset)
    x_norm = ds.x.norm().item()
    print(
        f"{args.activation} GCN on {ds.name} ({ds.num_nodes} nodes), width {args.width}, "
        f"default init (Xavier-uniform, zero bias), seed {args.seed}"
    )
    print("| depth | ‖h_L‖ | ‖h_L‖ / ‖X‖ |")
    print("|---:|---:|---:|")
    for depth in args.depths:
        model = deepgnn.build(
            "gcn",
            ds.num_features,
            ds.num_classes,
            depth,
            width=args.width,
            activation=args.activation,
            seed=args.seed,
        )
        with torch.no_grad():
            out = model(ds.graph, ds.x).norm().item()
        print(f"| {depth} | {out:.3e} | {out / x_norm:.3e} |")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepgnn", description="Depth studies of graph neural networks."
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    demo = sub.add_parser("demo", help="signal propagation of GCNs of growing depth on Cora")
    demo.add_argument("--dataset", default="cora")
    demo.add_argument("--depths", type=_ints, default=[2, 4, 8, 16, 32, 64])
    demo.add_argument("--width", type=int, default=64)
    demo.add_argument("--activation", default="tanh")
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (ValueError, TypeError, ImportError, FileNotFoundError) as err:
        print(f"deepgnn {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
