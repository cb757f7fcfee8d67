# case: 19
# title: keyctl, add_key, request_key
# tries: add a user key to the process keyring, read the session keyring id, request a key
# means: all denied (EPERM/EACCES/ENOSYS or SIGSYS): the kernel keyring is not a channel or a secret
# means: store shared with the host
# expect-status: ok
# expect-contained: 3
# expect-stdout: ^DONE$
from attacklib import expect_denied, syscall, done

PROCESS_KEYRING, SESSION_KEYRING = -2, -3
expect_denied("add_key", lambda: syscall("add_key", b"user", b"sandrun-attack", b"x", 1, PROCESS_KEYRING))
expect_denied("keyctl GET_KEYRING_ID", lambda: syscall("keyctl", 0, SESSION_KEYRING, 0))
expect_denied("request_key", lambda: syscall("request_key", b"user", b"sandrun-attack", None, 0))
done()
