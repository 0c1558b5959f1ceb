"""Figures as PNG bytes, for the analysis tools (written atomically by the
caller with :func:`lkmm.utils.fileio.atomic_write_bytes`)."""
import io


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend: files only, no display
    (the tools run on headless machines)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def figure_png(fig, dpi: int = 100) -> bytes:
    """The PNG bytes of ``fig``, which is closed afterwards."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format='png', dpi=dpi)
    finally:
        pyplot().close(fig)
    return buffer.getvalue()
