# case: 48
# title: printing secrets: API key, AWS keys, private key, connection string, internal IP, token
# tries: print fake credentials of every common shape to stdout and stderr
# means: with sanitization on, none appears in the result (redacted), sanitized is true and each kind is
# means: reported as a detection
# expect-status: ok
# expect-contained: 0
# expect-stdout: ^DONE$
# sanitize: yes
# expect-detections: 6
# expect-redacted: sk-proj-Zx8Kq2Lm9Vb4Nc7Tr1Yw6Pd3Hf5Jg0Ua2Se8Qi4Ko7Xl1Mn9BvT3cR
# expect-redacted: AKIAZ7Q2N4W6RET3YL5P
# expect-redacted: q8Zp3Lw7Yc2Nv5Tb9Rk1Xm4Hd6Gf0Js8Ae3Ui7Oo
# expect-redacted: MIIEowIBAAKCAQEAuF3k9QmZr7XcT2pLw8YvN1bHs6JdKq4GfVe0RaUo5MiCnSxE
# expect-redacted: Hunter2Secret
# expect-redacted: 10.12.34.56
# expect-redacted: ghp_R7t2Yq9Lm4Xw8Nc1Vb6Hk3Jd5Pf0Sg2Ua7Ei4Z
import sys

print("OPENAI_API_KEY=sk-proj-Zx8Kq2Lm9Vb4Nc7Tr1Yw6Pd3Hf5Jg0Ua2Se8Qi4Ko7Xl1Mn9BvT3cR")
print("aws_access_key_id = AKIAZ7Q2N4W6RET3YL5P")
print("aws_secret_access_key = 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")
print("-----BEGIN RSA PRIVATE KEY-----")
print("MIIEowIBAAKCAQEAuF3k9QmZr7XcT2pLw8YvN1bHs6JdKq4GfVe0RaUo5MiCnSxE")
print("q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1C2v3B4n5M6q7W8e9R0t1Y2")
print("-----END RSA PRIVATE KEY-----")
print("DATABASE_URL=postgres://admin:Hunter2Secret@db.internal.example:5432/prod")
print("the cache lives at 10.12.34.56:6379", file=sys.stderr)
print("GITHUB_TOKEN=ghp_R7t2Yq9Lm4Xw8Nc1Vb6Hk3Jd5Pf0Sg2Ua7Ei4Z")
print("DONE")
