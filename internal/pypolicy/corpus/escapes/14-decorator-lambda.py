# kind: capability
# Any expression is a decorator (PEP 614).
@(lambda f: f.__globals__["__builtins__"])
def b():
    pass


payload(importer(b))
