# kind: capability
# A decorator is a call without parentheses: applied to a function it
# hands back the function's globals.
import operator


@operator.attrgetter("__globals__")
def g():
    pass


payload(importer(g["__builtins__"]))
