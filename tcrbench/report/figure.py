"""What every figure of a report shares: the :class:`Plot` it becomes, PNG output and literal label text.

Figures are built with matplotlib's object API on the Agg canvas, never pyplot, so no global figure state
or backend switch leaks into the caller (a notebook, a test, the runner).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100
MAX_LABEL = 42


@dataclass(frozen=True)
class Plot:
    """One image: what it shows (``title``, ``caption``) and the PNG itself."""

    name: str
    title: str
    caption: str
    png: bytes

    @property
    def data_uri(self) -> str:
        """The PNG inline, for an <img> in a self-contained page."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def label_text(s: str, limit: int = MAX_LABEL) -> str:
    """A label as literal text: '$' would start matplotlib mathtext; long labels are shortened."""
    s = " ".join(str(s).split())
    if len(s) > limit:
        # keep a trailing "[protocol]" (and "@ 5% labels"): it tells two rows of one configuration apart
        head, sep, tail = s.rpartition(" [")
        keep = sep + tail if sep and len(tail) < limit // 2 else ""
        s = s[: max(limit - 1 - len(keep), 1)] + "…" + keep
    return s.replace("$", r"\$")


def to_png(fig: Figure) -> bytes:
    """The figure as PNG bytes, without the Software tag (a matplotlib upgrade alone must not change the file)."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
