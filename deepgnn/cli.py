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


def _train(args: argparse.Namespace) -> int:
    import deepgnn
    from deepgnn.train import train_graph, train_node

    ds = deepgnn.data.load(args.dataset, root=args.root)
    graph_task = getattr(ds, "task", "node") == "graph"
    in_dim = args.width if graph_task else ds.num_features
    out_dim = args.width if graph_task else ds.num_classes
    model = deepgnn.build(
        args.family,
        in_dim,
        out_dim,
        args.depth,
        width=args.width,
        activation=args.activation,
        dropout=args.dropout,
        norm=args.norm,
        seed=args.seed,
    )
    common = dict(
        init=args.init,
        epochs=args.epochs,
        lr=args.lr,
        weight_decay=args.weight_decay,
        patience=args.patience,
        device=args.device,
        seed=args.seed,
        progress=True,
    )
    if graph_task:
        result = train_graph(model, ds, batch_size=args.batch_size, **common)
    else:
        result = train_node(model, ds, split=args.split, **common)
    print(f"{args.family} depth {args.depth} on {ds.name}, init {args.init}, seed {args.seed}")
    for key, value in result.as_row().items():
        print(f"{key}: {value}")
    if args.log_csv:
        result.log.to_csv(args.log_csv, index=False)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from deepgnn import bench

    records = bench.run(suite=args.suite, steps=args.steps)
    command = f"deepgnn bench --suite {args.suite} --steps {args.steps} --out {args.out}"
    bench.write_results(records, args.out, command=command)
    print((Path(args.out) / "benchmarks.md").read_text())
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
    bench = sub.add_parser("bench", help="time training steps: deepgnn vs torch.sparse, PyG, DGL")
    bench.add_argument("--suite", default="auto", choices=["auto", "cpu", "gpu"])
    bench.add_argument("--steps", type=int, default=20)
    bench.add_argument("--out", default="results")
    bench.set_defaults(func=_bench)

    train = sub.add_parser(
        "train", help="train one model on one dataset (best-validation protocol)"
    )
    train.add_argument("--dataset", default="cora")
    train.add_argument(
        "--root", default=None, help="folder with the dataset files (or $DEEPGNN_DATA)"
    )
    train.add_argument("--family", default="gcn")
    train.add_argument("--depth", type=int, default=2)
    train.add_argument("--width", type=int, default=64)
    train.add_argument("--activation", default="relu")
    train.add_argument("--dropout", type=float, default=0.5)
    train.add_argument("--norm", default=None)
    train.add_argument("--init", default=None, help="an init name (deepgnn.init.available())")
    train.add_argument("--epochs", type=int, default=200)
    train.add_argument("--lr", type=float, default=0.01)
    train.add_argument("--weight-decay", type=float, default=5e-4)
    train.add_argument("--patience", type=int, default=100)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--split", type=int, default=None)
    train.add_argument("--device", default=None)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--log-csv", default=None, help="write the per-epoch log here")
    train.set_defaults(func=_train)
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
