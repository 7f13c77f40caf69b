-- infer.lua - wrk script of bench/compare-server: every connection POSTs the same KServe v2 JSON infer request (read
-- from the file named after `--`), counts responses that are not 2xx or carry no "outputs", and prints one summary
-- line `WRK_JSON {...}` (requests, duration, socket errors, bad responses, latency percentiles in microseconds).
--   wrk -t1 -c16 -d10s --latency -s bench/wrk/infer.lua http://127.0.0.1:8000/v2/models/NAME/infer -- body.json
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  if not path then error("infer.lua: give the request body file after --") end
  local f = assert(io.open(path, "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
  ok, non2xx, bad_body = 0, 0, 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif not string.find(body, '"outputs"', 1, true) then
    bad_body = bad_body + 1
  else
    ok = ok + 1
  end
end

function done(summary, latency, requests)
  local okc, n2, bb = 0, 0, 0
  for _, t in ipairs(threads) do
    okc = okc + t:get("ok")
    n2 = n2 + t:get("non2xx")
    bb = bb + t:get("bad_body")
  end
  local e = summary.errors
  local p = function(q) return math.floor(latency:percentile(q)) end
  io.write(string.format('WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "ok": %d, "non2xx": %d, ' ..
    '"bad_body": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d, "lat_p50_us": %d, "lat_p90_us": %d, ' ..
    '"lat_p99_us": %d, "lat_mean_us": %.1f, "lat_max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, okc, n2, bb, e.connect, e.read, e.write, e.timeout,
    p(50), p(90), p(99), latency.mean, latency.max))
end
