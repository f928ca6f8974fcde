# bench/nginx.sh — the nginx baseline of the benchmarks (sourced by run.sh and languages.sh).

# start_nginx DIR PORT WORKERS CONNECTIONS [BODY]: nginx on 127.0.0.1:PORT answering every
# request with 200 and BODY (an nginx string, default "Hello, world!\n"), WORKERS worker
# processes of CONNECTIONS connections each, no access log; its config, pid file
# (DIR/nginx.pid: stop it with kill), error log and temp files in DIR. nginx's status.
start_nginx() {
    local dir=$1 port=$2 workers=$3 conns=$4 body=${5:-'Hello, world!\n'}
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<NGX
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections $conns; }
http {
  access_log off;
  client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir;
  uwsgi_temp_path $dir; scgi_temp_path $dir;
  server { listen 127.0.0.1:$port; location / { return 200 "$body"; } }
}
NGX
    nginx -c "$dir/nginx.conf" -p "$dir" 2>>"$dir/error.log"
}
