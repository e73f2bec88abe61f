-- Shared by the scenario scripts: configuration from the environment, a
-- per-thread random generator, survey bodies with the same distribution as
-- bench/gen.h, and a done() that prints one JSON line for bench/bench.py.
--
-- Every scenario prebuilds a pool of requests in init() and cycles through
-- it, so wrk spends its time sending, not formatting in Lua.
local M = {}

M.key = os.getenv("BENCH_KEY") or ""
M.customers = tonumber(os.getenv("BENCH_CUSTOMERS") or "100000")
M.batch_items = tonumber(os.getenv("BENCH_BATCH_ITEMS") or "500")
M.pool = tonumber(os.getenv("BENCH_POOL") or "1024")

local channels = {"phone", "email", "chat", "in_person", "web", "mobile", "social", "other"}
local expectations = {"below", "met", "exceeded"}

-- Each wrk thread has its own Lua state; setup() below gives each a seed.
function M.seed(n)
   math.randomseed(1000 + n * 7919)
end

function M.customer()
   return "c-" .. math.random(0, M.customers - 1)
end

-- One survey; type_member adds "type": "survey" for batch items.
function M.survey(type_member)
   local parts = {}
   if type_member then parts[#parts + 1] = '"type":"survey"' end
   parts[#parts + 1] = '"customer_id":"' .. M.customer() .. '"'
   parts[#parts + 1] = '"channel":"' .. channels[math.random(#channels)] .. '"'
   parts[#parts + 1] = '"agent_id":"agent-' .. math.random(0, 199) .. '"'
   parts[#parts + 1] = '"expectation":"' .. expectations[math.random(#expectations)] .. '"'
   parts[#parts + 1] = '"csat":' .. math.random(1, 5)
   parts[#parts + 1] = '"resolved":' .. (math.random(2) == 1 and "true" or "false")
   if math.random(4) > 1 then parts[#parts + 1] = '"effort":' .. math.random(1, 7) end
   if math.random(2) == 1 then parts[#parts + 1] = '"nps":' .. math.random(0, 10) end
   if math.random(4) == 1 then
      parts[#parts + 1] = '"comment":"Quick and friendly, thanks!","tags":["billing","callback"]'
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function M.headers(with_body)
   local h = {}
   if M.key ~= "" then h["Authorization"] = "Bearer " .. M.key end
   if with_body then h["Content-Type"] = "application/json" end
   return h
end

-- Install the wrk callbacks for a pool of requests built by make(i).
function M.run_pool(make)
   local counter = 0
   function setup(thread)
      thread:set("bench_thread", counter)
      counter = counter + 1
   end
   local reqs, n, i = {}, 0, 0
   function init(args)
      M.seed(bench_thread or 0)
      for k = 1, M.pool do reqs[k] = make(k) end
      n = M.pool
   end
   function request()
      i = i % n + 1
      return reqs[i]
   end
   function done(summary, latency, requests)
      local e = summary.errors
      io.write(string.format(
         'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
         '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
         '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
         summary.requests, summary.duration, summary.bytes,
         e.connect, e.read, e.write, e.status, e.timeout,
         latency:percentile(50), latency:percentile(99), latency.max))
   end
end

return M
