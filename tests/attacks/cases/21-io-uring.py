# case: 21
# title: io_uring_setup, io_uring_enter, io_uring_register
# tries: set up a ring; enter and register on a bad descriptor
# means: all three answer ENOSYS from the filter (an unfiltered kernel would make a ring, or say EBADF:
# means: io_uring bypasses seccomp for the operations it performs, so it must be off entirely)
# expect-status: ok
# expect-contained: 3
# expect-stdout: ^CONTAINED io_uring_setup: denied: ENOSYS
# expect-stdout: ^DONE$
import ctypes, errno, os
from attacklib import expect_denied, syscall, done

params = ctypes.create_string_buffer(120)

def setup():
    r = syscall("io_uring_setup", 8, params)
    if r[0] >= 0:
        os.close(r[0])
    return r

ONLY = {errno.ENOSYS}
expect_denied("io_uring_setup", setup, denied=ONLY)
expect_denied("io_uring_enter", lambda: syscall("io_uring_enter", 9999, 1, 0, 0, None, 0), denied=ONLY)
expect_denied("io_uring_register", lambda: syscall("io_uring_register", 9999, 0, None, 0), denied=ONLY)
done()
