-- wrk script: replays pushes signed in advance by `wxsim load --dump FILE`
-- (one "path?query<TAB>body" per line), each thread its own share, so no
-- push is sent twice and JetStream's duplicate window drops none.
--
--   go run ./cmd/wxsim load --mode safe --pushes 400000 --dump /tmp/pushes.txt
--   PUSHES=/tmp/pushes.txt wrk -t2 -c64 -d20s -s bench/wrk/push.lua --latency http://127.0.0.1:8080

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local file = os.getenv("PUSHES") or "/tmp/pushes.txt"
  local nthreads = tonumber(os.getenv("THREADS") or "2")
  requests = {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id then
      local tab = line:find("\t", 1, true)
      local path, body = line:sub(1, tab - 1), line:sub(tab + 1)
      local ct = body:sub(1, 1) == "{" and "application/json" or "text/xml"
      requests[#requests + 1] = wrk.format("POST", path, {["Content-Type"] = ct}, body)
    end
    i = i + 1
  end
  n = 0
  failures = 0
end

function request()
  n = n + 1
  if n > #requests then
    n = 1 -- out of pushes: later ones repeat and are deduplicated (dump more)
  end
  return requests[n]
end

function response(status, headers, body)
  if status ~= 200 then
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%-5s %.2f ms\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("non-2xx/3xx: %d\n", summary.errors.status))
end
