-- POST /v1/surveys: one survey per request, customers, channels and scores varied.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")
c.run_pool(function()
   return wrk.format("POST", "/v1/surveys", c.headers(true), c.survey(false))
end)
