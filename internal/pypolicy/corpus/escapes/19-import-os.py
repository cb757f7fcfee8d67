# kind: capability
# A module outside the allowlist.
import os
payload(getattr(os.sys.modules["builtins"], "__import__"))
