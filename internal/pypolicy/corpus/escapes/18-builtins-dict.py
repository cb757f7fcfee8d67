# kind: capability
# The seed's own example: the builtins mapping by name.
payload(__builtins__["__import__"] if isinstance(__builtins__, dict) else __builtins__.__import__)
