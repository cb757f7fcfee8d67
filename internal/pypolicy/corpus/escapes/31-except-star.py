# kind: capability
# try/except* (CPython gh-128049, a type confusion in 3.11-3.13.1).
try:
    raise ExceptionGroup("g", [ValueError(1)])
except* ValueError:
    pass
import os
payload(getattr(os.sys.modules["builtins"], "__import__"))
