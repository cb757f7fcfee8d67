# case: 20
# title: bpf and perf_event_open
# tries: bpf(BPF_MAP_CREATE) of a small array map; perf_event_open of a software clock counter on itself
# means: both denied (EPERM/EACCES/ENOSYS or SIGSYS)
# expect-status: ok
# expect-contained: 2
# expect-stdout: ^DONE$
import ctypes, os
from attacklib import expect_denied, syscall, done

class map_attr(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("key_size", ctypes.c_uint32), ("value_size", ctypes.c_uint32),
                ("max_entries", ctypes.c_uint32), ("pad", ctypes.c_uint8 * 112)]

def bpf():
    a = map_attr(2, 4, 8, 4)  # BPF_MAP_TYPE_ARRAY
    r = syscall("bpf", 0, ctypes.byref(a), ctypes.sizeof(a))
    if r[0] >= 0:
        os.close(r[0])
    return r

class perf_attr(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("size", ctypes.c_uint32), ("config", ctypes.c_uint64),
                ("rest", ctypes.c_uint8 * 112)]

def perf():
    a = perf_attr(1, 128, 0)  # PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK
    r = syscall("perf_event_open", ctypes.byref(a), 0, -1, -1, 0)
    if r[0] >= 0:
        os.close(r[0])
    return r

expect_denied("bpf(BPF_MAP_CREATE)", bpf)
expect_denied("perf_event_open", perf)
done()
