# kind: capability
# A running coroutine's frame (cr_frame), then up to its caller's.
async def co():
    return c.cr_frame.f_back


c = co()
try:
    c.send(None)
except StopIteration as stop:
    f = stop.value
while f is not None:
    if "open" in f.f_builtins:
        payload(f.f_builtins["__import__"])
        break
    f = f.f_back
