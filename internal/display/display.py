# sandrun_display: sandrun's matplotlib backend (MPLBACKEND=module://
# sandrun_display) and the display of a session step's last value. See
# internal/display/display.go and docs/architecture/data.md.
#
# Figures the program shows (plt.show(), fig.show()) are rendered when
# shown, and those still open at exit (or, in a session, at the end of the
# step), in figure order; then closed, as Jupyter's inline backend does.
# Each rendering is one JSON line {"mime", "data" (base64) or "text",
# "figure", "output", "source"}: appended to .sandrun/display.jsonl beside
# this file (the run's work directory; the supervisor collects it after
# the run), or handed to `sink` (a session driver sets it). Everything here
# runs as the program: the supervisor checks and caps what it reads.
import atexit as _atexit
import base64 as _b64
import io as _io
import json as _json
import os as _os
import sys as _sys

_MIME = {"png": "image/png", "svg": "image/svg+xml"}
FORMATS = [f for f in _os.environ.get("SANDRUN_FIGURE_FORMATS", "png").split(",") if f in _MIME] or ["png"]
# Items past this are not rendered (the supervisor keeps at most as many).
MAX_ITEMS = 64
_PATH = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), ".sandrun", "display.jsonl")

sink = None  # a callable taking one item (a dict), or None: the file
_state = {"items": 0, "output": 0}


def _emit(items):
    """One output (its alternative formats): to the sink or the file."""
    if not items or _state["items"] >= MAX_ITEMS:
        return
    _state["output"] += 1
    _state["items"] += len(items)
    for it in items:
        it["output"] = _state["output"]
        if sink is not None:
            sink(it)
            continue
        _os.makedirs(_os.path.dirname(_PATH), exist_ok=True)
        with open(_PATH, "a", encoding="utf-8") as f:
            f.write(_json.dumps(it) + "\n")


def render(fig, num=None):
    """The figure in every requested format."""
    out = []
    for fmt in FORMATS:
        buf = _io.BytesIO()
        fig.savefig(buf, format=fmt)
        it = {"mime": _MIME[fmt], "source": "figure"}
        if num is not None:
            it["figure"] = num
        if fmt == "svg":
            it["text"] = buf.getvalue().decode("utf-8", "replace")
        else:
            it["data"] = _b64.b64encode(buf.getvalue()).decode()
        out.append(it)
    return out


def show_figure(manager):
    from matplotlib._pylab_helpers import Gcf

    _emit(render(manager.canvas.figure, manager.num))
    Gcf.destroy(manager)


def flush_figures():
    """Show every open figure, in figure order, and close it."""
    if "matplotlib" not in _sys.modules:
        return
    from matplotlib._pylab_helpers import Gcf

    for manager in sorted(Gcf.get_all_fig_managers(), key=lambda m: m.num):
        show_figure(manager)


def value_items(value):
    """A value as a notebook shows it: its repr, and HTML when it has one
    (a pandas DataFrame's table)."""
    out = [{"mime": "text/plain", "text": repr(value), "source": "value"}]
    html = getattr(type(value), "_repr_html_", None)
    if html is not None:
        try:
            h = value._repr_html_()
        except Exception:
            h = None
        if isinstance(h, str):
            out.append({"mime": "text/html", "text": h, "source": "value"})
    return out


def display_value(value):
    if value is not None:
        _emit(value_items(value))


def displayhook(value):
    """sys.displayhook for a REPL line: python's own (the repr printed,
    builtins._ set), plus the value's HTML as a display item when it has
    one (a DataFrame's table, for a page that shows it)."""
    _sys.__displayhook__(value)
    if value is not None:
        html = [it for it in value_items(value) if it["mime"] == "text/html"]
        _emit(html)


def _at_exit():
    try:
        flush_figures()
    except MemoryError:
        # Out of memory while rendering: say so and end as a failed
        # program would, so that the run ends memory_limit, not ok.
        import traceback

        traceback.print_exc()
        for f in (_sys.stdout, _sys.stderr):
            try:
                f.flush()
            except Exception:
                pass
        _os._exit(1)


try:
    from matplotlib.backend_bases import FigureManagerBase as _Manager
    from matplotlib.backends.backend_agg import FigureCanvasAgg as _Canvas
except ImportError:  # no matplotlib: the value display still works
    pass
else:

    class FigureManager(_Manager):
        def show(self):  # fig.show()
            show_figure(self)

    class FigureCanvas(_Canvas):
        manager_class = FigureManager

    def show(*args, **kwargs):  # plt.show()
        flush_figures()

    _atexit.register(_at_exit)
