# case: 46
# title: environment: only the allowlist, no supervisor secret
# tries: list the whole environment (values printed, so the harness can search them for the secret it
# tries: put in the supervisor's environment) and look for the secret's variable by name
# means: only PATH, HOME, LANG, TMPDIR and the request's allowlisted SANDRUN_ATTACK_* variables exist
# expect-status: ok
# expect-contained: 2
# expect-stdout: ^DONE$
import os
from attacklib import contained, escaped, done

allowed = {"PATH", "HOME", "LANG", "TMPDIR"}
extra = sorted(k for k in os.environ if k not in allowed and not k.startswith("SANDRUN_ATTACK_"))
for k, v in sorted(os.environ.items()):
    print(f"env {k}={v[:200]}")
(escaped if extra else contained)("only allowlisted variables", f"also {extra}" if extra else "yes")
(escaped if "SANDRUN_ATTACK_SUPERVISOR_SECRET" in os.environ else contained)("supervisor secret", "by name")
done()
