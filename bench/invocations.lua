-- wrk script shared by every server in bench/serve: POST the same JSON body to /invocations.
--
--   wrk -t1 -c16 -d20s --latency -s bench/invocations.lua http://127.0.0.1:PORT/invocations -- BODY.json
--
-- The body file comes after `--`; done() prints one machine-readable line (prefix WRK_JSON)
-- that bench/serve parses. Latencies are in microseconds.

function init(args)
  local path = args[1]
  if path == nil then
    error("usage: wrk ... -s invocations.lua URL -- BODY.json")
  end
  local file = assert(io.open(path, "rb"))
  wrk.body = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
