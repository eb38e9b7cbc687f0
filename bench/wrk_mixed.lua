-- wrk script of the API section (bench/api_bench.py fills in the three values below).
--
-- mode "mixed": 35% list (limit 50), 35% get, 10% create, 10% update (PATCH to a title
--   no other request used, so every update really writes),
--   10% delete of a task this thread created (a create when it has none), across many
--   users, each request with that user's bearer token;
-- mode "get": GET of a random existing task; mode "list": the mix's list alone;
-- mode "bare": GET /bare (the ceiling).
-- THINK_MS > 0 adds a think time between a connection's requests, uniform in
-- [0, 2 × THINK_MS]: never past uvicorn's 5 s keep-alive, which wrk would count as errors.
-- done() prints one line "BENCH_JSON {...}" with counts, errors and latency percentiles.

local DATA = "@DATA@"
local MODE = "@MODE@"
local THINK_MS = @THINK_MS@

local users = {}
local tokens = {}
local created = {}
local edits = 0
statuses = {}
threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
   for line in io.lines(DATA) do
      local u, t, ids = line:match("^(%S+) (%S+) (%S+)$")
      if u then
         local list = {}
         for id in ids:gmatch("[^,]+") do list[#list + 1] = id end
         users[#users + 1] = { id = u, token = t, tasks = list }
         tokens[u] = t
      end
   end
end

local function headers(token, json)
   local h = {}
   if token ~= "-" then h["Authorization"] = "Bearer " .. token end
   if json then h["Content-Type"] = "application/json" end
   return h
end

local function create(u)
   return wrk.format("POST", "/users/" .. u.id .. "/tasks", headers(u.token, true),
      '{"title": "Load test task"}')
end

function request()
   if MODE == "bare" then
      return wrk.format("GET", "/bare")
   end
   local u = users[math.random(#users)]
   local task = u.tasks[math.random(#u.tasks)]
   if MODE == "get" then
      return wrk.format("GET", "/users/" .. u.id .. "/tasks/" .. task, headers(u.token))
   end
   if MODE == "list" then
      return wrk.format("GET", "/users/" .. u.id .. "/tasks?completed=false&limit=50",
         headers(u.token))
   end
   local r = math.random(100)
   if r <= 35 then
      return wrk.format("GET", "/users/" .. u.id .. "/tasks?completed=false&limit=50",
         headers(u.token))
   elseif r <= 70 then
      return wrk.format("GET", "/users/" .. u.id .. "/tasks/" .. task, headers(u.token))
   elseif r <= 80 then
      return create(u)
   elseif r <= 90 then
      edits = edits + 1
      return wrk.format("PATCH", "/users/" .. u.id .. "/tasks/" .. task,
         headers(u.token, true),
         string.format('{"title": "Edited under load %d.%d"}', tid or 0, edits))
   end
   local c = table.remove(created)
   if c == nil then
      return create(u)
   end
   return wrk.format("DELETE", "/users/" .. c.user .. "/tasks/" .. c.id, headers(tokens[c.user]))
end

function response(status, hdrs, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status == 201 and body then
      local id = body:match('"id"%s*:%s*"([%x%-]+)"')
      local uid = body:match('"user_id"%s*:%s*"([%x%-]+)"')
      if id and uid and tokens[uid] then created[#created + 1] = { user = uid, id = id } end
   end
end

if THINK_MS > 0 then
   function delay()
      return math.random(0, 2 * THINK_MS)
   end
end

function done(summary, latency, requests)
   local agg = {}
   for _, t in ipairs(threads) do
      local st = t:get("statuses")
      if st then
         for k, v in pairs(st) do agg[k] = (agg[k] or 0) + v end
      end
   end
   local parts = {}
   for k, v in pairs(agg) do parts[#parts + 1] = string.format('"%d": %d', k, v) end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p95": %d, "p99": %d}, ' ..
      '"statuses": {%s}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(95), latency:percentile(99), table.concat(parts, ", ")))
end
