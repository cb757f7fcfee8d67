# kind: capability
# An exception's traceback: tb_frame, then up the frames.
try:
    1 / 0
except ZeroDivisionError as e:
    tb = e.__traceback__
f = tb.tb_frame
while f is not None:
    if "open" in f.f_builtins:
        payload(f.f_builtins["__import__"])
        break
    f = f.f_back
