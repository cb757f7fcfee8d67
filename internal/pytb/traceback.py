# sandrun: python tracebacks without the frames of the program that runs
# the user's code (internal/pytb). The session driver (internal/driver)
# and restricted python's policy (internal/pypolicy) each put this before
# their own source, so it runs in their module: the frames it leaves out
# are those whose globals are that module's.
import traceback as _pytb_traceback, types as _pytb_types


def _user_tb(tb, runner):
    """tb without the frames whose globals are runner (the program running
    the user's code: its step runner, its handlers); the user's code runs
    in globals of its own, and so do its exec() calls."""
    keep = []
    while tb is not None:
        if tb.tb_frame.f_globals is not runner:
            keep.append(tb)
        tb = tb.tb_next
    out = None
    for t in reversed(keep):
        out = _pytb_types.TracebackType(out, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return out


def _print_user_exc(e, runner):
    """Print e as python does, every exception of its chain (__cause__,
    __context__) without runner's frames."""
    seen, todo = set(), [e]
    while todo:
        x = todo.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        x.__traceback__ = _user_tb(x.__traceback__, runner)
        todo += [x.__cause__, x.__context__]
    _pytb_traceback.print_exception(type(e), e, e.__traceback__)


