"""Command line: ``deepgnn <command>``. Each command calls library functions; no logic lives here.

Flags are the library's keyword names with dashes (``--n-trials`` is ``n_trials``), and the
model flags are declared once (``_model_flags``) with :func:`deepgnn.build`'s defaults.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import inspect
import math
import re
import shlex
import sys
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["main"]


def _numbers(kind: type, example: str) -> Any:
    """An argparse type: comma-separated values of ``kind`` (``2,4,8``)."""

    def parse(text: str) -> list[Any]:
        try:
            return [kind(v) for v in text.split(",") if v]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {kind.__name__}s such as {example}, got {text!r}"
            ) from None

    return parse


_ints = _numbers(int, "2,4,8")
_floats = _numbers(float, "1,10,1")


def _strs(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _patience(text: str) -> int | str:
    if text == "none":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of epochs or none, got {text!r}"
        ) from None


class _OldSpelling(argparse.Action):
    """An old flag spelling: works for one more release and says which flag replaces it."""

    def __init__(self, option_strings: Sequence[str], dest: str, new: str, **kw: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        print(
            f"deepgnn: {option} is the old spelling of {self.new}; it will stop working in the "
            "next release",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each option's default as typed on the command line (``2,4,8``); options
    whose default is "not given" (``None``) or a switch left off say nothing more."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        if default is None or default is False or default is argparse.SUPPRESS or not action.help:
            return action.help
        if "%(default)" in action.help or not action.option_strings:
            return action.help
        if isinstance(default, (list, tuple)):
            default = ",".join(str(v) for v in default)
        return f"{action.help} (default: {str(default).replace('%', '%%')})"


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose subcommands' ``--help`` also show the defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)


# What the library's messages name that no flag of the command answers to.
_NOT_FLAGS = frozenset({"command", "action", "config", "func", "argv"})
# Library keywords that stand for one of several flags: the flag whose value the message quotes.
_ALIASES = {"name": ("dataset", "base", "init"), "scheme": ("init", "base")}
_VALUE = r"\[[^\]]*\]|\([^)]*\)|'[^']*'|\"[^\"]*\"|<[^>]*>|[^\s;,)\]]+"


def _in_flags(message: str, args: argparse.Namespace) -> str:
    """The library's error in the command's terms, on one line: a keyword the command has a
    flag for reads as the flag (``family='gcnn'`` -> ``--family gcnn``, ``pass root=<folder>``
    -> ``pass --root <folder>``, ``cuda_graph=True`` -> ``--cuda-graph``); ``name='foo'``
    (``deepgnn.data.load``, ``init_``) reads as whichever of ``--dataset``, ``--base``,
    ``--init`` was given ``foo``."""
    options = {k: v for k, v in vars(args).items() if k not in _NOT_FLAGS}

    def flag(match: re.Match[str]) -> str:
        name, value = match.groups()
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = value
        if name not in options:
            quoted = str(parsed).lower()
            given = [
                f for f in _ALIASES[name] if f in options and str(options[f]).lower() == quoted
            ]
            if not given:
                return match.group(0)
            name = given[0]
        spelled = "--" + name.replace("_", "-")
        if isinstance(options[name], bool):
            return spelled if parsed is True else f"drop {spelled}"
        if isinstance(parsed, (list, tuple)):
            parsed = ",".join(str(v) for v in parsed)
        return f"{spelled} {parsed if parsed is value else shlex.quote(str(parsed))}"

    names = "|".join(re.escape(k) for k in sorted({*options, *_ALIASES}, key=len, reverse=True))
    message = re.sub(rf"(?<![\w.-])({names})=({_VALUE})", flag, message)
    return " ".join(message.split())


def _build_defaults() -> dict[str, Any]:
    from deepgnn.models import build

    params = inspect.signature(build).parameters.values()
    return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}


def _model_flags(parser: argparse.ArgumentParser, *, many: bool = False) -> None:
    """``--family`` and the options of :func:`deepgnn.build`, with build's defaults.

    ``many``: ``--family`` and ``--activation`` take comma-separated lists (one activation, or
    one per family).
    """
    from deepgnn.models import ACTIVATIONS, NORMS, available

    d = _build_defaults()
    families = ", ".join(available())
    if many:
        parser.add_argument(
            "--family", type=_strs, default=["gcn"], help=f"comma-separated, of {families}"
        )
        parser.add_argument(
            "--activation",
            type=_strs,
            default=[d["activation"]],
            help="one activation, or one per family in the order of --family",
        )
    else:
        parser.add_argument("--family", default="gcn", help=f"model family: {families}")
        parser.add_argument(
            "--activation", default=d["activation"], help=", ".join(sorted(ACTIVATIONS))
        )
    parser.add_argument("--width", type=int, default=d["width"], help="hidden features per layer")
    parser.add_argument(
        "--dropout", type=float, default=d["dropout"], help="dropout after each hidden layer"
    )
    parser.add_argument(
        "--norm",
        default=d["norm"],
        help=f"a norm after each hidden layer: {', '.join(NORMS)} (default: none)",
    )
    parser.add_argument("--no-bias", action="store_true", help="build layers without biases")
    parser.add_argument(
        "--backend", default=d["backend"], help="torch (deepgnn's kernels) or dgl (DGL's layers)"
    )


def _model_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "width": args.width,
        "dropout": args.dropout,
        "norm": args.norm,
        "bias": not args.no_bias,
        "backend": args.backend,
    }


def _value(value: Any) -> str:
    """A result's value as a person reads it: floats to 4 decimals (small ones in e-notation)."""
    if isinstance(value, float) and math.isfinite(value) and not value.is_integer():
        return f"{value:.4f}" if abs(value) >= 1e-3 else f"{value:.3e}"
    return str(value)


def _data_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset", default="cora", help="a name of deepgnn.data.available(); cora ships"
    )
    parser.add_argument(
        "--root",
        default=None,
        help="folder with the dataset files (default: $DEEPGNN_DATA); nothing is downloaded",
    )


# ----------------------------------------------------------------------------- commands
def _demo(args: argparse.Namespace) -> int:
    import deepgnn

    ds = deepgnn.data._load_nodes(args.dataset, what="deepgnn demo")
    print(
        f"{args.activation} GCN on {ds.name} ({ds.num_nodes} nodes), width {args.width}, "
        f"zero biases, seed {args.seed}; loss on the training nodes"
    )
    df = deepgnn.depth_table(
        "gcn",
        ds,
        args.depths,
        args.inits,
        [args.seed],
        width=args.width,
        activation=args.activation,
    )
    print(deepgnn.experiment.format_depth_table(df))
    return 0


def _analyze(args: argparse.Namespace) -> int:
    import platform
    import shlex
    from pathlib import Path

    import pandas as pd
    import torch

    import deepgnn
    from deepgnn._io import write_atomic
    from deepgnn.experiment import format_depth_table, plot_depth_table

    acts = args.activation
    if len(acts) == 1:
        acts = acts * len(args.family)
    if len(acts) != len(args.family):
        raise ValueError(
            f"--activation has {len(acts)} entries for {len(args.family)} families; "
            "pass one activation, or one per family in the same order"
        )
    ds = deepgnn.data._load_nodes(args.dataset, args.root, what="deepgnn analyze")
    # A bar over the cells on a terminal; elsewhere (a log file, CI) one line per cell.
    bar = sys.stderr.isatty()
    with _cell_lines(enabled=not bar):
        tables = [
            deepgnn.depth_table(
                family,
                ds,
                args.depths,
                args.inits,
                args.seeds,
                activation=act,
                device=args.device,
                progress=bar,
                **_model_options(args),
            )
            for family, act in zip(args.family, acts)
        ]
    df = pd.concat(tables, ignore_index=True)
    text = format_depth_table(df)
    print(text)
    if args.out is not None:
        out = Path(args.out)
        csv = write_atomic(out.with_name(out.name + ".csv"), df.to_csv(index=False))
        png = plot_depth_table(df, out.with_name(out.name + ".png"))
        command = "deepgnn analyze " + " ".join(shlex.quote(a) for a in args.argv)
        header = (
            f"# Signal propagation on {ds.name}\n\n"
            f"Generated by\n\n```bash\n{command}\n```\n\n"
            f"on {platform.machine()} ({torch.get_num_threads()} threads), Python "
            f"{platform.python_version()}, torch {torch.__version__}, device "
            f"{df['device'].iloc[0]}. Weights by each init, biases zero unless stated; loss = NLL "
            f"on the training nodes. FSP = ‖h_L‖/‖X‖ (logits), BSP = gradient norm of the first "
            f"layer's weight, GEV of the logits; `diverged`: a state, gradient or the loss holds "
            f"NaN/inf; `0.00e+00`: the float32 signal underflowed to zero. "
            f"Data: `{csv.name}`, plot: `{png.name}`.\n\n"
        )
        md = write_atomic(out.with_name(out.name + ".md"), header + text + "\n")
        print(f"\nwrote {csv}, {png}, {md}")
    return 0


@contextlib.contextmanager
def _cell_lines(*, enabled: bool) -> Iterator[None]:
    """While on: :func:`deepgnn.depth_table`'s line per cell (its log) goes to stderr."""
    import logging

    if not enabled:
        yield
        return
    log = logging.getLogger("deepgnn.experiment")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("deepgnn analyze: %(message)s"))
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def _train(args: argparse.Namespace) -> int:
    from deepgnn.experiment import CellSpec, run_cell

    # Only what was given: the rest comes from the protocol (or train_graph's defaults).
    given: tuple[str, ...]
    given = ("protocol", "epochs", "lr", "weight_decay", "patience", "split", "batch_size")
    given += ("drop_edge", "precision")  # node datasets
    train: dict[str, Any] = {k: getattr(args, k) for k in given if getattr(args, k) is not None}
    if train.get("patience") == "none":
        train["patience"] = None
    if args.cuda_graph:
        train["cuda_graph"] = True
    spec = CellSpec(
        dataset=args.dataset,
        family=args.family,
        depth=args.depth,
        init=args.init,
        seed=args.seed,
        model={"activation": args.activation, **_model_options(args)},
        train=train,
        root=args.root,
    )
    cell = run_cell(spec, device=args.device, progress=True)
    init = args.init if args.init is not None else "build's own initialization"
    print(f"{args.family} depth {args.depth} on {args.dataset}, init {init}, seed {args.seed}")
    for key, value in cell.result.as_row().items():
        print(f"{key}: {_value(value)}")
    if args.log_csv:
        cell.result.log.to_csv(args.log_csv, index=False)
    return 0


def _bench(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    from deepgnn import bench

    log = logging.getLogger("deepgnn.bench")  # one line per graph and per case, as they run
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("deepgnn bench: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    records = bench.run(suite=args.suite, steps=args.steps, quick=args.quick)
    command = f"deepgnn bench --suite {args.suite} --steps {args.steps} --out {args.out}"
    command += " --quick" if args.quick else ""
    bench.write_results(records, args.out, command=command)
    print((Path(args.out) / "benchmarks.md").read_text())
    return 0


def _sweep(args: argparse.Namespace) -> int:
    import logging

    import optuna

    from deepgnn import sweep

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    where = dict(storage=args.storage, out=args.out)
    if args.action == "run":
        try:
            state = sweep.run(
                args.config,
                workers=args.workers,
                devices=args.devices,
                progress=not args.no_progress,
                retry_failed=args.retry_failed,
                **where,
            )
        except (RuntimeError, OSError) as err:
            if isinstance(err, FileNotFoundError):
                raise
            print(f"deepgnn sweep run: {err}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(
                "deepgnn sweep run: interrupted; rerun the same command to resume", file=sys.stderr
            )
            return 130
        print(state)
        if state.failed:
            print(
                f"deepgnn sweep run: {state.failed} cells failed on every try (their errors are "
                "in the error column of deepgnn sweep report); fix the cause and rerun with "
                "--retry-failed",
                file=sys.stderr,
            )
            return 1
        if not state.finished:
            print("cells are left: rerun the same command to finish the sweep", file=sys.stderr)
            return 1
        return 0
    if args.action == "status":
        print(sweep.status(args.config, **where))
        return 0
    if args.curves:
        print(sweep.plot_curves(args.config, args.curves, out=args.out))
        return 0
    try:
        df = sweep.report(args.config, **where)
    except OSError as err:
        if isinstance(err, FileNotFoundError):
            raise
        print(f"deepgnn sweep report: {err}", file=sys.stderr)
        return 1
    out = args.out or f"results/{sweep.load_config(args.config).name}"
    if df.empty:
        print(f"no cell is recorded yet: nothing written to {out}")
        return 0
    tex = ""
    if args.latex:
        try:
            tex = f", {sweep.write_latex(args.config, out=args.out)}"
        except OSError as err:
            print(f"deepgnn sweep report: {err}", file=sys.stderr)
            return 1
    print(f"{len(df)} rows -> {out}/results.csv, {out}/summary.md{tex} and plots")
    return 0


def _search(args: argparse.Namespace) -> int:
    import torch

    import deepgnn
    from deepgnn.objective import objective
    from deepgnn.search import DEFAULT_METHOD, objective_defaults, search

    ds = deepgnn.data._load_nodes(args.dataset, args.root, what="deepgnn search")
    model = deepgnn.build(
        args.family,
        ds.num_features,
        ds.num_classes,
        args.depth,
        activation=args.activation,
        seed=args.seed,
        **_model_options(args),
    )
    deepgnn.init.init_(
        model, args.base, graph=ds.graph, x=ds.x, generator=torch.Generator().manual_seed(args.seed)
    )
    x, y = (None, None) if args.random_data else (ds.x, ds.y)
    # The family's objective (deepgnn.search.objective_defaults), with the flags given on top.
    opts = {k: v for k, v in objective_defaults(args.family).items() if k != "method"}
    given = {"form": args.form, "weights": args.weights, "state": args.state}
    opts.update({k: tuple(v) if k == "weights" else v for k, v in given.items() if v is not None})
    # Method settings only when given: each method takes its own (storage: tpe, cmaes).
    settings = {
        k: v
        for k, v in (("storage", args.storage), ("study_name", args.study_name))
        if v is not None
    }

    def summary(title: str) -> None:
        s = deepgnn.analyze(model, ds.graph, ds.x, ds.y, mask=ds.train_mask).attrs["summary"]
        j = objective(s, **opts)
        print(
            f"{title:>7}: FSP {s['fsp']:.3e}  BSP {s['bsp']:.3e}  GEV {s['gev']:.3e} "
            f"(input {s['gev_input']:.3e})  objective {j:.4g}"
            + ("  diverged" if s["diverged"] else "")
        )

    method = args.method or f"{DEFAULT_METHOD[opts['form']]} (the default for {opts['form']})"
    print(
        f"{args.family} ({args.activation}) depth {args.depth} width {args.width} on {ds.name}, "
        f"{args.base} weights, seed {args.seed}; method {method}, "
        f"{'random' if args.random_data else 'real'} data, form {opts['form']}, weights "
        f"{opts['weights']}, state {opts['state']}"
    )
    summary("before")
    result = search(
        model,
        ds.graph,
        x,
        y,
        mask=ds.train_mask,
        method=args.method,
        n_trials=args.n_trials,
        timeout=args.timeout,
        seed=args.seed,
        **opts,
        **settings,
    )
    deepgnn.init.scale_(model, result.scales, gates=result.gates)
    summary("after")
    print(
        f"{result.method}: {result.evaluations} model evaluations in {result.seconds:.1f} s; "
        "best objective "
        f"{result.objective:.4g}; scales {min(result.scales):.3g}..{max(result.scales):.3g}"
    )
    if args.trace_csv:
        result.trace.to_csv(args.trace_csv, index=False)
    if args.save:
        info = {"dataset": ds.name, "base": args.base, "seed": args.seed}
        path = result.save(args.save, model, info=info)
        print(
            f"scales saved to {path}: deepgnn.init.load_scales_(model, {str(path)!r}) applies "
            f"them to a {args.family}-{args.depth} with the {args.base} weights of seed {args.seed}"
        )
    return 0


# ------------------------------------------------------------------------------- parser
def _grid_flags(parser: argparse.ArgumentParser) -> None:
    """``--depths`` and ``--inits`` of a depth table (``deepgnn demo``, ``deepgnn analyze``)."""
    parser.add_argument(
        "--depths", type=_ints, default=[2, 4, 8, 16, 32, 64], help="comma-separated depths"
    )
    parser.add_argument(
        "--inits",
        type=_strs,
        default=["conventional", "xavier", "virgo"],
        help="comma-separated names of deepgnn.init.available()",
    )


def _command(sub: Any, name: str, text: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")


def _parser() -> argparse.ArgumentParser:
    from deepgnn.train import PRECISIONS, protocols

    parser = _Parser(prog="deepgnn", description="Depth studies of graph neural networks.")
    sub = parser.add_subparsers(dest="command", metavar="command")
    demo = _command(
        sub, "demo", "signal propagation of tanh GCNs of growing depth on Cora, three inits"
    )
    demo.add_argument("--dataset", default="cora", help="a dataset that needs no files")
    _grid_flags(demo)
    demo.add_argument(
        "--width", type=int, default=_build_defaults()["width"], help="hidden features per layer"
    )
    demo.add_argument("--activation", default=_build_defaults()["activation"], help="activation")
    demo.add_argument("--seed", type=int, default=42, help="seeds the weights")
    demo.set_defaults(func=_demo)
    bench = _command(sub, "bench", "time training steps: deepgnn vs torch.sparse, PyG, DGL")
    bench.add_argument(
        "--suite",
        default="auto",
        choices=["auto", "cpu", "gpu"],
        help="cpu: Cora against DGL; gpu: Erdős–Rényi and power-law graphs of ogbn-arxiv and "
        "ogbn-products size against torch.sparse and PyG; auto: gpu where CUDA is available",
    )
    bench.add_argument("--steps", type=int, default=20, help="timed training steps per case")
    bench.add_argument(
        "--quick", action="store_true", help="GPU suite: the headline cases only (under a minute)"
    )
    bench.add_argument(
        "--out", default="results", help="folder for benchmarks.json and benchmarks.md"
    )
    bench.set_defaults(func=_bench)

    train = _command(sub, "train", "train one model on one dataset (best-validation protocol)")
    _data_flags(train)
    train.add_argument("--depth", type=int, default=2, help="graph layers")
    _model_flags(train)
    train.add_argument(
        "--init",
        default=None,
        help="an init name of deepgnn.init.available() (default: build's own initialization)",
    )
    train.add_argument(
        "--protocol",
        default=None,
        help=f"training preset, one of {', '.join(protocols.available())} (default: kipf); "
        "the flags below override it",
    )
    for flag, kind, text in (
        ("--epochs", int, "epochs (default: the protocol's)"),
        ("--lr", float, "Adam's learning rate (default: the protocol's)"),
        ("--weight-decay", float, "L2 penalty (default: the protocol's)"),
        (
            "--patience",
            _patience,
            "early stopping after this many epochs without a better validation metric, or "
            "none (default: the protocol's)",
        ),
        ("--batch-size", int, "graph datasets (train_graph's default: 32)"),
        ("--split", int, "which of the dataset's splits (default: its current one, 0 as loaded)"),
        (
            "--drop-edge",
            float,
            "DropEdge: drop each edge with this probability every training step",
        ),
    ):
        train.add_argument(flag, type=kind, default=None, help=text)
    train.add_argument(
        "--device", default=None, help="e.g. cpu, cuda, cuda:1 (default: cuda where available)"
    )
    train.add_argument("--seed", type=int, default=0, help="seeds the model, init and training")
    train.add_argument(
        "--cuda-graph",
        action="store_true",
        help="replay the training step as a CUDA graph (node datasets, CUDA only)",
    )
    train.add_argument(
        "--precision",
        default=None,
        choices=PRECISIONS,
        help="the arithmetic of training: fp32 (default), tf32 (CUDA) or bf16 autocast "
        "(node datasets)",
    )
    train.add_argument("--log-csv", default=None, help="write the per-epoch log here")
    train.set_defaults(func=_train)

    analyze = _command(
        sub,
        "analyze",
        "FSP, BSP and GEV across depths x inits: markdown table, and CSV + PNG + MD with --out",
    )
    _data_flags(analyze)
    _model_flags(analyze, many=True)
    _grid_flags(analyze)
    analyze.add_argument(
        "--seeds", type=_ints, default=[0], help="comma-separated seeds (one row each)"
    )
    analyze.add_argument("--device", default=None, help="e.g. cuda (default: cpu)")
    analyze.add_argument(
        "--out", default=None, help="path prefix: writes <out>.csv, <out>.png and <out>.md"
    )
    analyze.set_defaults(func=_analyze)

    sweep = sub.add_parser(
        "sweep", help="run, watch and report a depth sweep described by a TOML file"
    )
    actions = sweep.add_subparsers(dest="action", metavar="action", required=True)
    for action, text in (
        ("run", "run or resume the sweep: worker processes pull cells until none are left"),
        ("status", "count the cells done / running / failed / left, with the work left"),
        ("report", "write results.csv, summary.md and plots from the recorded cells"),
    ):
        a = actions.add_parser(action, help=text)
        a.add_argument("config", help="the sweep's TOML file, e.g. sweeps/demo_cora.toml")
        a.add_argument(
            "--storage",
            default=None,
            help="journal file or Optuna RDB URL (default: the config's storage, else "
            "<out>/sweep.journal)",
        )
        a.add_argument("--out", default=None, help="output folder (default results/<name>)")
        if action == "report":
            a.add_argument(
                "--curves",
                default=None,
                metavar="PATTERN",
                help="instead of the report, plot the training curves of the cells whose key "
                "matches this shell pattern (e.g. 'cora-gcn-d64-xavier-s?-????????', any seed) to "
                "<out>/curves_<pattern>.png",
            )
        if action == "run":
            a.add_argument(
                "--workers",
                type=int,
                default=None,
                help="worker processes (default: one per --devices entry, else 1)",
            )
            a.add_argument(
                "--devices",
                type=_strs,
                default=None,
                help="e.g. cuda:0,cuda:1; workers take them in turn (default: cuda where "
                "available, else cpu)",
            )
            a.add_argument("--no-progress", action="store_true", help="hide the progress bars")
            a.add_argument(
                "--retry-failed",
                action="store_true",
                help="run the cells that failed on every try again, with fresh retries",
            )
        if action == "report":
            a.add_argument(
                "--latex",
                action="store_true",
                help="also write summary.tex: summary.md's tables as booktabs LaTeX",
            )
    sweep.set_defaults(func=_sweep)

    srch = _command(
        sub,
        "search",
        "SPoGInit: search per-layer weight scales; prints FSP/BSP/GEV before and after",
    )
    _data_flags(srch)
    srch.add_argument("--depth", type=int, default=64, help="graph layers")
    _model_flags(srch)
    srch.add_argument("--base", default="xavier", help="init drawn before the search")
    srch.add_argument(
        "--method",
        default=None,
        help="gauss_newton, gradient, tpe, cmaes, zeroth_order, zeroth_order_single "
        "(default: gauss_newton for --form divide_old, gradient for divide_stable)",
    )
    srch.add_argument(
        "--n-trials",
        type=int,
        default=None,
        help="budget in model evaluations (default: the method's)",
    )
    srch.add_argument(
        "--trials",
        dest="n_trials",
        type=int,
        action=_OldSpelling,
        new="--n-trials",
        help=argparse.SUPPRESS,
    )
    srch.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    srch.add_argument(
        "--storage", default=None, help="Optuna storage URL or journal file (tpe/cmaes; resumable)"
    )
    srch.add_argument("--study-name", default=None, help="the study's name in --storage")
    srch.add_argument(
        "--form", default=None, help="divide_old or divide_stable (default: the family's)"
    )
    srch.add_argument(
        "--weights",
        type=_floats,
        default=None,
        help="w1,w2,w3 of J = w1 FSP + w2 BSP + w3 GEV gap (default: the family's)",
    )
    srch.add_argument(
        "--state",
        default=None,
        help="hidden or logits: the state GEV reads (default: the family's)",
    )
    srch.add_argument(
        "--random-data", action="store_true", help="search on random X ~ N(0,1) and labels"
    )
    srch.add_argument("--seed", type=int, default=0, help="seeds the model, base init and search")
    srch.add_argument("--trace-csv", default=None, help="write the per-evaluation trace here")
    srch.add_argument(
        "--save",
        default=None,
        help="write the scales found to this file (e.g. scales.pt), for ``deepgnn.init.load_scales_``",
    )
    srch.set_defaults(func=_search)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv[1:]
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (ValueError, TypeError, ImportError, FileNotFoundError, RuntimeError) as err:
        print(f"deepgnn {args.command}: error: {_in_flags(str(err), args)}", file=sys.stderr)
        return 2
    except AssertionError as err:
        # torch asserts "Torch not compiled with CUDA enabled" when a CPU build is asked for CUDA.
        if "CUDA" not in str(err):
            raise
        print(f"deepgnn {args.command}: error: {_in_flags(str(err), args)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
