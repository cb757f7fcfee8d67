# PostgreSQL for the audit store's tests (audit/postgres_test.go).
# Installs Debian's postgresql, starts a private throwaway cluster owned by
# the postgres user that listens only on a unix socket in a temp dir (no
# TCP, no clash with a system cluster), creates a test role and database,
# and exports SANDRUN_TEST_PG_DSN. The cluster is stopped and deleted on
# exit. Sourced by scripts/test.sh (uses apt_install and on_exit).
if [ "$(id -u)" = 0 ]; then
	apt_install postgresql
	pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
	if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
		echo "40-postgres: no initdb under /usr/lib/postgresql/*/bin" >&2
		return 1
	fi
	pg_dir="$(mktemp -d /tmp/sandrun-pg.XXXXXX)"
	chown postgres:postgres "$pg_dir"
	chmod 0700 "$pg_dir"
	pg_port=55432
	runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres >"$pg_dir/initdb.log" 2>&1 ||
		{ cat "$pg_dir/initdb.log" >&2; return 1; }
	runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
		-o "-c listen_addresses='' -k $pg_dir -p $pg_port -c fsync=off" start >/dev/null ||
		{ cat "$pg_dir/server.log" >&2; return 1; }
	on_exit "runuser -u postgres -- '$pg_bin/pg_ctl' -D '$pg_dir/data' -m immediate -w stop >/dev/null; rm -rf '$pg_dir'"
	# The socket directory must be reachable by the test process (root) and
	# the role is a plain non-superuser owning its own database.
	chmod 0755 "$pg_dir"
	runuser -u postgres -- "$pg_bin/psql" -q -h "$pg_dir" -p "$pg_port" -U postgres -d postgres \
		-c "CREATE ROLE sandrun_test LOGIN" -c "CREATE DATABASE sandrun_test OWNER sandrun_test" >/dev/null
	export SANDRUN_TEST_PG_DSN="host=$pg_dir port=$pg_port user=sandrun_test dbname=sandrun_test sslmode=disable"
	echo "40-postgres: PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on $pg_dir (socket only)"
fi
