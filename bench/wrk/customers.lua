-- GET /v1/customers/{id}: random profiles over BENCH_CUSTOMERS customers.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")
c.pool = 4096
c.run_pool(function()
   return wrk.format("GET", "/v1/customers/" .. c.customer(), c.headers(false))
end)
