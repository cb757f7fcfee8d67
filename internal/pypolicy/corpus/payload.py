# The payload every escape runs once it holds the interpreter's real
# import function (or real builtins): read a host file, run a process,
# reach the network. It is written without a name or attribute that the
# policy refuses, so that a refusal always comes from the escape itself.
# The test prepends SECRET_FILE, PORT and ENV_SECRET.


def importer(b):
    # The real builtins as a module (a plain program) or as a dict (the
    # interpreter's frames).
    if isinstance(b, dict):
        return b["__import__"]
    return getattr(b, "__import__")


def payload(imp):
    report = []
    try:
        report.append("read:" + imp("builtins").open(SECRET_FILE).read())
    except BaseException as e:
        report.append("read-blocked:" + str(type(e)).split("'")[1])
    try:
        out = imp("subprocess").run(["/bin/echo", "exec-ran"], capture_output=True, timeout=5).stdout
        report.append("exec:" + out.decode())
    except BaseException as e:
        report.append("exec-blocked:" + str(type(e)).split("'")[1])
    try:
        s = imp("socket").create_connection(("127.0.0.1", PORT), 2)
        s.sendall(b"escaped")
        report.append("net-connected")
    except BaseException as e:
        report.append("net-blocked:" + str(type(e)).split("'")[1])
    try:
        env = imp("os").environ
        report.append("env:" + ("leaked" if ENV_SECRET in str(dict(env)) else "clean"))
    except BaseException as e:
        report.append("env-blocked:" + str(type(e)).split("'")[1])
    print("ESCAPED", " ".join(report))
