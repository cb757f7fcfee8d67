# kind: capability
# json imports codecs (codecs.open reads files); codecs imports sys.
import json
payload(getattr(json.codecs.sys.modules["builtins"], "__import__"))
