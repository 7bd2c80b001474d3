"""Tables for the README's Findings from the sweeps' results.csv: Xavier against SPoGInit.

For each dataset, depth rows and, per family, the test metric of Xavier and SPoGInit: mean ±
std over the seeds that count (fitted their training set and not budget-limited;
`deepgnn.train.verdicts`), `n=k` where fewer than all seeds count (one seed: no ±), the best
training metric over every seed in brackets, and why the other seeds were left out (`u`
untrained, `f` trained without fitting, `b` budget-limited, `m` not run yet). A cell where no seed counts reads
`—` with its seeds' mean test value after it. Then, for depths >= 32, how often SPoGInit's mean
is above Xavier's and by more than the two standard deviations added, over the cases where both
have at least two seeds that count, and the same for depths <= 16, with totals over families; a case that would turn out otherwise with the
budget-limited seeds counted is named. Run from the repository root:

    python results/compare.py results/paper_planetoid results/paper_heterophilous
"""

from __future__ import annotations

import argparse

import pandas as pd

from deepgnn.train import verdicts

#: Column labels of the families, in table order; a family the results hold that is not here
#: follows under its own name.
LABELS = {
    "gcn": "GCN (tanh)",
    "resgcn": "ResGCN",
    "gated_resgcn": "gated ResGCN",
    "gcnii": "GCNII",
    "jknet": "JKNet",
}
PAIR = ("xavier", "spoginit")


def _true(s: pd.Series) -> pd.Series:
    return s.map(lambda v: v is True or v == 1 or v == "True")


def _stats(test: pd.Series) -> tuple[float, float, int]:
    n = len(test)
    mean = float(test.mean()) if n else float("nan")
    return mean, float(test.std()) if n > 1 else float("nan"), n


def _cell(
    part: pd.DataFrame, seeds: int
) -> tuple[str, tuple[float, float, int], tuple[float, float, int]]:
    """The table entry, and (mean, std, n) over the seeds that count and over the fitted ones
    (budget-limited included)."""
    counts, fitted = part[part["counts"]], part[_true(part["fitted"])]
    train = part["best_train"].mean()
    mean, std, n = _stats(counts["test"])
    why = {
        "u": int(_true(part["untrained"]).sum()),
        "f": int((~_true(part["untrained"]) & ~_true(part["fitted"])).sum()),
        "b": int(_true(part["budget_limited"]).sum()),
        "m": seeds - len(part),
    }
    notes = (["n=1"] if n == 1 else [f"n={n}"] if 0 < n < seeds else []) + [
        f"{k}{v}" for k, v in why.items() if v
    ]
    tail = f" ({train:.2f})" + (" " + " ".join(notes) if notes else "")
    if n == 0:
        text = f"— {part['test'].mean():.3f}{tail}"
    elif n == 1:
        text = f"{mean:.3f}{tail}"
    else:
        spread = f" ± {std:.3f}" if round(std, 3) > 0 else ""
        text = f"{mean:.3f}{spread}{tail}"
    return text, (mean, std, n), _stats(fitted["test"])


def _verdict(x: tuple[float, float, int], s: tuple[float, float, int]) -> str | None:
    """``"higher"``/``"lower"`` (by more than the summed std), ``"above"``/``"below"``, or
    ``None`` when either side has fewer than two seeds."""
    (mx, sx, nx), (ms, ss, ns) = x, s
    if nx < 2 or ns < 2:
        return None
    if ms - mx > sx + ss:
        return "higher"
    if mx - ms > sx + ss:
        return "lower"
    return "above" if ms > mx else "below"


def main(folders: list[str]) -> None:
    df = verdicts(pd.concat([pd.read_csv(f"{f}/results.csv") for f in folders], ignore_index=True))
    cases = []
    seeds = df["seed"].nunique()
    present = list(df["family"].unique())
    families = [(f, LABELS[f]) for f in LABELS if f in present]
    families += [(f, f) for f in present if f not in LABELS]
    for dataset, sub in df.groupby("dataset", sort=False):
        metric = sub["metric"].iloc[0]
        print(f"**{dataset}** (test {metric}; best training {metric} in brackets)\n")
        head = [f"{label} {i}" for _, label in families for i in ("Xavier", "SPoGInit")]
        print("| depth | " + " | ".join(head) + " |")
        print("|---:|" + "---:|" * len(head))
        for depth in sorted(sub["depth"].unique()):
            out = []
            for family, _ in families:
                entries = []
                for init in PAIR:
                    part = sub[(sub.family == family) & (sub.depth == depth) & (sub.init == init)]
                    none = (float("nan"), float("nan"), 0)
                    entries.append(_cell(part, seeds) if len(part) else ("", none, none))
                (tx, x, xf), (ts, s, sf) = entries
                if x[2] and s[2]:
                    if s[0] > x[0]:
                        ts = f"**{ts}**"
                    elif x[0] > s[0]:
                        tx = f"**{tx}**"
                cases.append((dataset, family, depth, x, s, _verdict(x, s), _verdict(xf, sf)))
                out += [tx, ts]
            print(f"| {depth} | " + " | ".join(out) + " |")
        print()
    for title, deep in (("Depth >= 32", True), ("Depths <= 16", False)):
        print(f"{title}, SPoGInit against Xavier (seeds that count):\n")
        _summary([c for c in cases if (c[2] >= 32) == deep], families)
        print()


def _summary(cases: list[tuple], families: list[tuple[str, str]]) -> None:
    """One line per family, and the total over families: how the cases compare."""
    total = {"cases": 0, "both": 0, "higher": 0, "above": 0, "below": 0, "lower": 0}
    for family, _ in families:
        mine = [c for c in cases if c[1] == family]
        if not mine:
            continue
        only_spog = [c for c in mine if c[3][2] == 0 and c[4][2] >= 2]
        only_xavier = [c for c in mine if c[4][2] == 0 and c[3][2] >= 2]
        both = [c for c in mine if c[5] is not None]
        count = {k: sum(c[5] == k for c in both) for k in ("higher", "above", "below", "lower")}
        flipped = [f"{c[0]} depth {c[2]} ({c[5]}; {c[6]} with them)" for c in both if c[5] != c[6]]
        print(
            f"- {family}: {len(mine)} cases; no Xavier seed counts but 2+ SPoGInit seeds do in "
            f"{len(only_spog)}, the reverse in {len(only_xavier)}; both with 2+ seeds in "
            f"{len(both)}: SPoGInit higher by more than the summed std in {count['higher']}, "
            f"higher within it in {count['above']}, lower within it in {count['below']}, lower "
            f"by more in {count['lower']}"
            + (f"; decided by budget-limited seeds: {', '.join(flipped)}" if flipped else "")
        )
        total["cases"] += len(mine)
        total["both"] += len(both)
        for k in count:
            total[k] += count[k]
    print(
        f"- all families: both with 2+ seeds in {total['both']} of {total['cases']} cases; "
        f"SPoGInit higher in {total['higher'] + total['above']} ({total['higher']} by more than "
        f"the summed std), lower in {total['below'] + total['lower']} ({total['lower']} by more)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="study folders holding results.csv")
    main(parser.parse_args().folders)
