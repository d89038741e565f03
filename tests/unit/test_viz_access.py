"""viz.access_matrix: one labelled, coloured cell per (request, policy)."""
from __future__ import annotations

from labkit import viz


def test_access_matrix_labels_every_cell_with_its_outcome() -> None:
    decisions = {
        "read-only": {"GetItem": "Allow", "PutItem": "ImplicitDeny"},
        "guarded": {"GetItem": "Allow", "PutItem": "ExplicitDeny"},
    }
    figure = viz.access_matrix(decisions, title="t")
    ax = figure.axes[0]
    texts = sorted(text.get_text() for text in ax.texts)
    assert texts == sorted(["allowed", "allowed", "denied\n(no Allow)", "denied\n(explicit Deny)"])
    assert [label.get_text() for label in ax.get_xticklabels()] == ["read-only", "guarded"]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["GetItem", "PutItem"]
