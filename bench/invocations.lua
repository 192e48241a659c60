-- wrk script shared by every server in bench/serve: POST the same body (MLflow JSON, OIP v2 JSON or binary).
--
--   wrk -t1 -c16 -d20s --latency -s bench/invocations.lua http://127.0.0.1:PORT/invocations -- BODY.json
--
-- The body file comes after `--`, optionally followed by the Content-Type (default
-- application/json) and, for OIP v2 binary tensors, the Inference-Header-Content-Length:
--
--   wrk ... -s bench/invocations.lua URL/v2/models/model-api/infer -- BODY.bin application/octet-stream 512
--
-- done() prints one machine-readable line (prefix WRK_JSON) that bench/serve parses.
-- Latencies are in microseconds.

function init(args)
  local path = args[1]
  if path == nil then
    error("usage: wrk ... -s invocations.lua URL -- BODY [CONTENT-TYPE [HEADER-LENGTH]]")
  end
  local file = assert(io.open(path, "rb"))
  wrk.body = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = args[2] or "application/json"
  if args[3] ~= nil then
    wrk.headers["Inference-Header-Content-Length"] = args[3]
  end
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
