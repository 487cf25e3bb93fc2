#!/bin/busybox sh
# The guest's /init (busybox sh): mounts what eBPF tests need, runs every
# test binary in /tests once per hook method (or, for `cargo xtask bench
# --vm`, the in-guest benchmark /bin/xtask), and ends with exactly one
# sentinel line, `nstrace-vm: success` or `nstrace-vm: failure`, which is the
# only verdict the host trusts. Lines starting with `nstrace-vm: ` are read by
# xtask/src/vm/console.rs: keep both in step.

/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
/bin/busybox --install -s

failed=0
fail() {
	echo "nstrace-vm: error: $*"
	failed=1
}

# The archive's /dev/console only serves init's own stdio; the tests need
# the rest of /dev (null, ptmx, ...). A failed mount fails the run before
# any test, rather than as a puzzling test failure.
mount -t devtmpfs devtmpfs /dev || fail "mounting devtmpfs on /dev"
mount -t proc proc /proc || fail "mounting proc on /proc"
mount -t sysfs sysfs /sys || fail "mounting sysfs on /sys"
mount -t tmpfs tmpfs /tmp || fail "mounting tmpfs on /tmp"
mount -t tracefs tracefs /sys/kernel/tracing || fail "mounting tracefs on /sys/kernel/tracing"
mount -t debugfs debugfs /sys/kernel/debug || fail "mounting debugfs on /sys/kernel/debug"
mount -t bpf bpffs /sys/fs/bpf || fail "mounting bpffs on /sys/fs/bpf"
mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "mounting cgroup2 on /sys/fs/cgroup"
# A cgroup v1 hierarchy beside it, as on hybrid hosts: with one mounted,
# nstrace's programs walk from the task to its v1 cgroup id with plain loads
# (tracer-ebpf/src/emit.rs), and that walk is only checked by a kernel's
# verifier when it is loaded live (the offset is absent otherwise). freezer:
# a controller no test uses on cgroup2.
mkdir -p /mnt/cgroup-v1-freezer &&
	mount -t cgroup -o freezer cgroup /mnt/cgroup-v1-freezer ||
	fail "mounting a cgroup v1 freezer hierarchy on /mnt/cgroup-v1-freezer"
ip link set lo up || fail "bringing up lo"

# METHODS and TESTS, and the libtest arguments as "$@", written by the host;
# or BENCH=1 and the benchmark's arguments as "$@".
. /etc/nstrace-vm.conf
# One VM per kernel and method (xtask/src/vm/mod.rs): the host names the
# method on the kernel's command line, which the kernel hands to /init as
# the variable nstrace_method.
if [ -n "$nstrace_method" ]; then
	METHODS=$nstrace_method
fi

echo "nstrace-vm: kernel $(uname -r)"

if [ "$failed" = 0 ] && [ -n "$BENCH" ]; then
	# `cargo xtask bench --vm`: the benchmark prints its own
	# `nstrace-vm: bench ...` lines; its exit status is the verdict.
	/bin/xtask bench --guest "$@" || fail "the benchmark failed (its error is above)"
elif [ "$failed" = 0 ]; then
	for test in $TESTS; do
		for method in $METHODS; do
			echo "nstrace-vm: begin $test $method"
			# The kernel is shared state: one test at a time.
			NSTRACE_TEST_METHOD=$method NSTRACE_BIN=/bin/nstrace RUST_BACKTRACE=1 \
				"/tests/$test" --test-threads=1 "$@"
			status=$?
			echo "nstrace-vm: end $test $method $status"
			# A guest short of memory fails an exec past its point of no
			# return with SIGSEGV: this says whether that is what happened.
			echo "nstrace-vm: memory after $test $method:" \
				$(grep -E '^(MemAvailable|Shmem|SUnreclaim):' /proc/meminfo)
			[ "$status" = 0 ] || failed=1
		done
	done
fi

if [ "$failed" = 0 ]; then
	echo "nstrace-vm: success"
else
	echo "nstrace-vm: failure"
fi
# If poweroff fails, init exits, the kernel panics and panic=-1 with QEMU's
# -no-reboot ends the VM all the same.
poweroff -f
