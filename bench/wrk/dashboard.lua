-- GET /v1/dashboard/summary: the default period (the last 30 days), and
-- filtered by channel now and then, as a dashboard frontend asks.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")
local channels = {"phone", "email", "chat", "web"}
c.run_pool(function(k)
   local path = "/v1/dashboard/summary"
   if k % 4 == 0 then path = path .. "?channel=" .. channels[(k / 4) % #channels + 1] end
   return wrk.format("GET", path, c.headers(false))
end)
