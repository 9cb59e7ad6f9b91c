-- wrk script: each thread sends its share of pre-written requests once, in order, then stops.
-- Arguments (after --): the file of requests, the number of threads. One line per request:
--   METHOD <tab> PATH <tab> AUTHORIZATION <tab> IDEMPOTENCY-KEY <tab> JSON BODY (may be empty)
-- A request whose answer carries "out_trade_no" and whose line says PAY-AFTER is followed by the
-- payment of that order (checkout: place the order, then pay it, on the same connection).
-- Run with as many connections as threads: one connection per thread keeps the order exact.
-- wrk's main thread sleeps for the whole duration (-d) whatever the threads do, and wakes early
-- only on SIGINT: so each thread, when its share is answered, stops and leaves a file in the
-- folder given as the third argument; the caller interrupts wrk when every thread has (bench/load.py).

local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local function split(line)
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    table.insert(fields, field)
  end
  return fields
end

function init(args)
  local total = tonumber(args[2])
  done_folder = args[3]
  items = {}
  local n = 0
  for line in io.lines(args[1]) do
    if n % total == id - 1 then
      table.insert(items, split(line))
    end
    n = n + 1
  end
  index = 0
  verified = id ~= 1
  finished = false
  if #items == 0 then finish() end
  pending_pay = nil
  done_items = 0
  failed = 0
  first_failure = ""
end

local function formatted(item)
  local headers = { ["Content-Type"] = "application/json" }
  if item[3] ~= "" then headers["Authorization"] = item[3] end
  if item[4] ~= "" then headers["Idempotency-Key"] = item[4] end
  local body = item[5]
  if body == "" then body = nil end
  return wrk.format(item[1], item[2], headers, body)
end

function finish()
  if finished then return end
  finished = true
  wrk.thread:stop()
  local marker = io.open(done_folder .. "/done-" .. id, "w")
  marker:close()
end

function request()
  if not verified then
    -- wrk calls request() once on the first thread before the run, only to count the requests it
    -- returns (script_verify_request): answer it without using up an item.
    verified = true
    return wrk.format("GET", "/healthz")
  end
  if pending_pay ~= nil then
    local path = pending_pay
    pending_pay = nil
    paying = true
    return wrk.format("POST", path, { ["Content-Type"] = "application/json" }, "")
  end
  paying = false
  index = index + 1
  current = items[index]
  if current == nil then
    return wrk.format("GET", "/healthz")
  end
  return formatted(current)
end

function response(status, headers, body)
  if current == nil then
    finish()
    return
  end
  if status >= 300 then
    failed = failed + 1
    if first_failure == "" then first_failure = status .. " " .. body:sub(1, 200) end
  elseif not paying and current[6] == "PAY-AFTER" then
    local out_trade_no = body:match('"out_trade_no"%s*:%s*"([^"]+)"')
    pending_pay = "/api/v1/payments/simulator/" .. out_trade_no .. "/pay"
    return
  end
  done_items = done_items + 1
  if done_items >= #items then
    finish()
  end
end

function done(summary, latency, requests)
  local failures, first = 0, ""
  for _, thread in ipairs(threads) do
    failures = failures + thread:get("failed")
    local f = thread:get("first_failure")
    if first == "" and f ~= nil then first = f end
  end
  io.write(string.format(
    'WRK-RESULT {"requests": %d, "duration_us": %d, "errors_connect": %d, "errors_read": %d, ' ..
    '"errors_write": %d, "errors_timeout": %d, "errors_status": %d, "failed": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status, failures,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  if first ~= "" then io.write("WRK-FIRST-FAILURE " .. first:gsub("\n", " ") .. "\n") end
end
