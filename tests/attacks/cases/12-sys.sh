# case: 12
# title: list /sys
# tries: list /sys, /sys/fs/cgroup, /sys/class/net and read /sys/kernel/... and /sys/firmware
# means: /sys is absent (or empty): nothing of the host's devices, cgroups or kernel knobs shows
# expect-status: ok
# expect-contained: 4
# expect-stdout: ^DONE$
for d in /sys /sys/fs/cgroup /sys/class/net /sys/firmware; do
	if [ -d "$d" ] && [ -n "$(ls -A "$d" 2>/dev/null)" ]; then
		echo "ESCAPED list $d: $(ls "$d" 2>/dev/null | head -5 | tr '\n' ' ')"
	else
		echo "CONTAINED list $d: absent or empty"
	fi
done
if cat /sys/kernel/mm/transparent_hugepage/enabled >/dev/null 2>&1; then
	echo "ESCAPED read /sys/kernel: readable"
fi
echo DONE
