# pg_cluster.sh - sourced by the test scripts that need a REAL PostgreSQL (tests/server/test_store.sh,
# tests/swarm/run.sh): a throw-away cluster of Debian's postgresql in a folder of the caller's, with initdb + pg_ctl
# on a free loopback port, run as the postgres user (or nobody) when the caller is root, since initdb refuses root.
#   pg_cluster_start DIR   0 when up: PGBIN, pgdata, PG_PORT, PG_BASE (postgresql://tandem@127.0.0.1:PORT) and
#                          as_pg (the command prefix that runs as the cluster's owner) are set; 2 when the server
#                          binaries are not installed (PG_WHY says so); 1 on a failure (PG_WHY says what)
#   pg_createdb NAME       a database in it; 0 or 1 (PG_WHY)
#   pg_cluster_stop        stop it now (an immediate shutdown); harmless when it is not running
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
pgdata=""
as_pg=()
PG_PORT=""
PG_BASE=""
PG_WHY=""

pg_free_port() {
    node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})" 2>/dev/null ||
        echo $((20000 + RANDOM % 20000))
}

pg_cluster_start() {
    local dir=$1
    if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
        PG_WHY="no server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        return 2
    fi
    mkdir -p "$dir"
    chmod 755 "$(dirname "$dir")" 2>/dev/null
    pgdata=$dir/data
    if [ "$(id -u)" = 0 ]; then
        local pguser=postgres
        id -u postgres >/dev/null 2>&1 || pguser=nobody
        chown "$pguser" "$dir"
        as_pg=(runuser -u "$pguser" --)
    fi
    if ! "${as_pg[@]}" "$PGBIN/initdb" -D "$pgdata" -A trust -U tandem -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
        PG_WHY="initdb failed: $(tail -n 3 "$dir/initdb.log")"
        return 1
    fi
    local attempt
    for attempt in 1 2 3; do
        PG_PORT=$(pg_free_port)
        if "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$pgdata" -l "$dir/server.log" -w -t 60 \
            -o "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1" start >/dev/null 2>&1; then
            PG_BASE="postgresql://tandem@127.0.0.1:$PG_PORT"
            return 0
        fi
    done
    PG_WHY="pg_ctl start failed: $(tail -n 3 "$dir/server.log" 2>/dev/null)"
    return 1
}

pg_createdb() {
    if ! "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U tandem "$1" 2>"$pgdata/../createdb.err"; then
        PG_WHY="createdb $1: $(cat "$pgdata/../createdb.err")"
        return 1
    fi
}

pg_cluster_stop() {
    if [ -n "$pgdata" ] && [ -f "$pgdata/postmaster.pid" ]; then
        "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1
    fi
}
