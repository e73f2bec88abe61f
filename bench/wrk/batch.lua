-- POST /v1/batch: BENCH_BATCH_ITEMS surveys per request (SPEC 3: up to 500).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")
c.pool = 8 -- bodies are large; a few distinct ones are enough
c.run_pool(function()
   local items = {}
   for k = 1, c.batch_items do items[k] = c.survey(true) end
   return wrk.format("POST", "/v1/batch", c.headers(true),
                     '{"items":[' .. table.concat(items, ",") .. "]}")
end)
