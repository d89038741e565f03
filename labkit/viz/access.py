"""Who may do what: a matrix of IAM decisions, one row per request, one column per policy."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from labkit.viz.style import ERROR_COLOR, LIMIT_COLOR, WIDTH_IN

ALLOW_COLOR = "#59a14f"  # green: allowed
_EFFECTS = ("ImplicitDeny", "ExplicitDeny", "Allow")
_LABELS = {"ImplicitDeny": "denied\n(no Allow)", "ExplicitDeny": "denied\n(explicit Deny)", "Allow": "allowed"}


def access_matrix(
    decisions: Mapping[str, Mapping[str, str]],
    *,
    requests: Sequence[str] | None = None,
    title: str = "What each policy allows",
) -> Figure:
    """`decisions[policy][request]` is "Allow", "ExplicitDeny" or "ImplicitDeny" (IAM's three outcomes).

    Columns are the policies (in `decisions`' order), rows the requests (`requests`, or the first
    policy's keys); each cell is coloured and labelled with its outcome.
    """
    policies = list(decisions)
    rows = list(requests or (next(iter(decisions.values())) if decisions else []))
    codes = [[_EFFECTS.index(decisions[policy][row]) for policy in policies] for row in rows]
    figure = Figure(figsize=(WIDTH_IN, 1.4 + 0.55 * max(1, len(rows))))
    ax = figure.add_subplot()
    colors = ListedColormap(["#e8e8e8", ERROR_COLOR, ALLOW_COLOR])
    ax.imshow(codes, cmap=colors, vmin=0, vmax=2, aspect="auto")
    for y, row in enumerate(codes):
        for x, code in enumerate(row):
            effect = _EFFECTS[code]
            ax.text(x, y, _LABELS[effect], ha="center", va="center", fontsize=8,
                    color=LIMIT_COLOR if effect == "ImplicitDeny" else "white")
    ax.set_xticks(range(len(policies)), policies)
    ax.set_yticks(range(len(rows)), rows)
    ax.xaxis.tick_top()
    ax.tick_params(which="both", length=0)
    ax.set_xticks([x - 0.5 for x in range(1, len(policies))], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, len(rows))], minor=True)
    ax.grid(which="minor", color="white", linewidth=2)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, pad=28)
    figure.tight_layout()
    return figure
