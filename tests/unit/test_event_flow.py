"""Deliveries counted into flows, and the event-flow figure drawn from them."""
from __future__ import annotations

from matplotlib.figure import Figure

from labkit import viz
from labkit.triggers.bridge import Delivery, flows


def delivery(source: str, source_arn: str, function: str, error: str | None = None) -> Delivery:
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function}"
    return Delivery(source, source_arn, f"{source}.amazonaws.com", "123456789012", arn, b"{}", 0.0,
                    None if error else "req", error)


def test_deliveries_are_counted_per_source_and_function_in_first_seen_order() -> None:
    counted = flows([
        delivery("s3", "arn:aws:s3:::photos", "thumbs"),
        delivery("sns", "arn:aws:sns:us-east-1:123456789012:orders", "billing"),
        delivery("s3", "arn:aws:s3:::photos", "thumbs"),
        delivery("sns", "arn:aws:sns:us-east-1:123456789012:orders", "billing", error="denied"),
        delivery("schedule", "arn:aws:events:us-east-1:123456789012:rule/nightly", "report"),
    ])
    assert [(f.source_label, f.function_name, f.delivered, f.refused) for f in counted] == [
        ("S3 bucket\nphotos", "thumbs", 2, 0), ("SNS topic\norders", "billing", 1, 1), ("schedule\nnightly", "report", 1, 0),
    ]


def test_the_event_flow_figure_has_a_box_per_source_function_and_output() -> None:
    counted = flows([delivery("s3", "arn:aws:s3:::photos", "thumbs")])
    figure = viz.event_flow(counted, outputs=[("thumbs", "S3 bucket\nthumbnails")])
    assert isinstance(figure, Figure)
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert {"S3 bucket\nphotos", "λ thumbs", "S3 bucket\nthumbnails", "1 event"} <= set(texts)
