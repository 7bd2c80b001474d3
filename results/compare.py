"""Tables for the README's Findings from the sweeps' results.csv: Xavier against SPoGInit.

For each dataset, depth rows and, per family, the test metric (mean ± std over the seeds that
trained) of Xavier and SPoGInit with the best training metric in brackets; `†` marks a cell
whose seeds all stayed untrained (`†k`: k of them). Then, for depth >= 32, how often SPoGInit's
mean is above Xavier's and by more than the two standard deviations added. Run from the
repository root:

    python results/compare.py results/paper_planetoid results/paper_heterophilous
"""

from __future__ import annotations

import sys

import pandas as pd

FAMILIES = [("gcn", "GCN (tanh)"), ("resgcn", "ResGCN"), ("gated_resgcn", "gated ResGCN")]
PAIR = ("xavier", "spoginit")


def _cell(part: pd.DataFrame) -> tuple[str, float, float, int]:
    bad = part["untrained"].astype(str).eq("True")
    ok = part[~bad]
    train = part["best_train"].mean()
    if ok.empty:
        return f"† {part['test'].mean():.3f} ({train:.2f})", float("nan"), float("nan"), 0
    mean, std = ok["test"].mean(), ok["test"].std() if len(ok) > 1 else 0.0
    mark = f" †{int(bad.sum())}" if bad.any() else ""
    return f"{mean:.3f} ± {std:.3f} ({train:.2f}){mark}", mean, std, len(ok)


def main(folders: list[str]) -> None:
    df = pd.concat([pd.read_csv(f"{f}/results.csv") for f in folders], ignore_index=True)
    verdicts = []
    for dataset, sub in df.groupby("dataset", sort=False):
        metric = sub["metric"].iloc[0]
        print(f"**{dataset}** (test {metric}, best training {metric} in brackets)\n")
        head = [f"{label} {i}" for _, label in FAMILIES for i in ("Xavier", "SPoGInit")]
        print("| depth | " + " | ".join(head) + " |")
        print("|---:|" + "---:|" * len(head))
        for depth in sorted(sub["depth"].unique()):
            out = []
            for family, _ in FAMILIES:
                cells = []
                for init in PAIR:
                    part = sub[(sub.family == family) & (sub.depth == depth) & (sub.init == init)]
                    cells.append(_cell(part) if len(part) else ("—", float("nan"), 0.0, 0))
                (tx, mx, sx, nx), (ts, ms, ss, ns) = cells
                if nx and ns:
                    if ms > mx:
                        ts = f"**{ts}**"
                    elif mx > ms:
                        tx = f"**{tx}**"
                if depth >= 32 and (nx or ns):
                    verdicts.append((dataset, family, depth, mx, sx, nx, ms, ss, ns))
                out += [tx, ts]
            print(f"| {depth} | " + " | ".join(out) + " |")
        print()
    print("Depth >= 32, SPoGInit against Xavier (cells with at least one trained seed):\n")
    v = pd.DataFrame(
        verdicts, columns=["dataset", "family", "depth", "mx", "sx", "nx", "ms", "ss", "ns"]
    )
    for family, part in v.groupby("family", sort=False):
        only_spog = part[(part.nx == 0) & (part.ns > 0)]
        both = part[(part.nx > 0) & (part.ns > 0)]
        higher = both[both.ms > both.mx]
        clearly = both[both.ms - both.mx > both.sx + both.ss]
        lower = both[both.mx - both.ms > both.sx + both.ss]
        print(
            f"- {family}: {len(part)} cases; Xavier untrained, SPoGInit trained in "
            f"{len(only_spog)}; both trained in {len(both)}: SPoGInit higher in {len(higher)}, "
            f"by more than the summed std in {len(clearly)}, lower by more in {len(lower)}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
