# kind: capability
# An allowed module's own imports: dataclasses.builtins, json.codecs.
import dataclasses
payload(getattr(dataclasses.builtins, "__import__"))
