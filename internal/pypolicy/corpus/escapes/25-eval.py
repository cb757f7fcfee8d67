# kind: capability
# eval and exec compile new code that no rule has seen.
payload(eval("__imp" + "ort__"))
