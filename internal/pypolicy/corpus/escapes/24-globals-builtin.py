# kind: capability
# globals(), vars() and eval are the namespace and the compiler.
payload(importer(globals()["__builtins__"]))
