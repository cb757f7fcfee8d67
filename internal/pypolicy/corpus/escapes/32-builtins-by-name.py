# kind: capability
# The dangerous built-ins by name: open, vars, eval.
try:
    print("open:", open(SECRET_FILE).read())
except OSError as e:
    print("open-blocked", str(type(e)).split("'")[1])
payload(importer(vars(getattr(eval, "__se" + "lf__"))))
