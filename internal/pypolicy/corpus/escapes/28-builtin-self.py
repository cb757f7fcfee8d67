# kind: capability
# A built-in function's __self__ is the builtins module.
payload(importer(getattr(len, "__se" + "lf__")))
