-- wrk script: the request of a benchmark target, read from the environment by bench/load.py.
--
--   BENCH_METHOD      GET, POST, ... (default GET)
--   BENCH_PATH        request path (unset: the URL's); may hold "{seq}" and "{NAME}" like the body
--   BENCH_HEADERS     "Name: value" lines separated by newlines
--   BENCH_BODY        request body (unset: none)
--   BENCH_RUN         a prefix unique to this wrk run
--   BENCH_POOLS       a file of "NAME<tab>value" lines (unset: no pools)
--   BENCH_POOL_START  index of the first pool item this run takes (0-based, default 0)
--   BENCH_THREADS     wrk's thread count (-t), to interleave the threads over the pools
--   BENCH_STATUSES    "1": count the answers by status (a Lua call per answer, so only when asked)
--
-- "{seq}" in the path, a header value or the body becomes "<run>-<thread>-<n>", distinct for every
-- request of every thread. "{NAME}" becomes an item of the pool NAME: request n of thread t (of T) takes
-- item (start + (n - 1) * T + t - 1) mod size, the same index in every pool, so the requests in flight at
-- one moment use different items. Without "{seq}" or pools the request is built once and wrk sends it as
-- is (no Lua per request), which keeps the load generator as cheap as plain wrk.
--
-- After wrk's report, done() prints what bench/load.py reads besides it:
--   bench-latency-us: 99.9 N the 99.9th percentile of the latency, in microseconds (--latency stops at 99%)
--   bench-pool-next: N       the first pool item no request of this run took (with pools)
--   bench-status: CODE N     answers with status CODE (with BENCH_STATUSES)

local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH")
local body = os.getenv("BENCH_BODY")
local run = os.getenv("BENCH_RUN") or "run"
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1") or 1
local pool_start = tonumber(os.getenv("BENCH_POOL_START") or "0") or 0
local count_statuses = os.getenv("BENCH_STATUSES") == "1"
local headers = {}
local distinct = (body ~= nil and body:find("{seq}", 1, true) ~= nil)
   or (path ~= nil and path:find("{seq}", 1, true) ~= nil)

for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
   local name, value = line:match("^([^:]+):%s*(.-)%s*$")
   if name then
      headers[name] = value
      if value:find("{seq}", 1, true) then distinct = true end
   end
end

local pools = {}  -- {placeholder = "{NAME}", values = {...}}, in file order
local pool_size = 0
local pools_path = os.getenv("BENCH_POOLS")
if pools_path and pools_path ~= "" then
   local by_name = {}
   for line in io.lines(pools_path) do
      local name, value = line:match("^([%w_]+)\t(.*)$")
      if name then
         if by_name[name] == nil then
            by_name[name] = {placeholder = "{" .. name .. "}", values = {}}
            table.insert(pools, by_name[name])
         end
         table.insert(by_name[name].values, value)
      end
   end
   if #pools > 0 then
      pool_size = #pools[1].values
      distinct = true
   end
end

-- Plain substitution: neither the placeholder nor the value is read as a Lua pattern.
local function replace(text, placeholder, value)
   local out, from = {}, 1
   while true do
      local i, j = text:find(placeholder, from, true)
      if i == nil then break end
      table.insert(out, text:sub(from, i - 1))
      table.insert(out, value)
      from = j + 1
   end
   table.insert(out, text:sub(from))
   return table.concat(out)
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_no", #threads)
end

-- Per thread (read by done() through thread:get): requests built, answers by status.
draws = 0
statuses = {}

if distinct then
   local prefix

   function init(args)
      prefix = run .. "-" .. tostring(thread_no or 0) .. "-"
   end

   local function fill(text, seq, pick)
      text = replace(text, "{seq}", seq)
      for _, pool in ipairs(pools) do
         text = replace(text, pool.placeholder, pool.values[pick])
      end
      return text
   end

   function request()
      draws = draws + 1
      local seq = prefix .. draws
      local pick = 1
      if pool_size > 0 then
         pick = (pool_start + (draws - 1) * thread_count + (thread_no or 1) - 1) % pool_size + 1
      end
      local h = {}
      for name, value in pairs(headers) do
         h[name] = fill(value, seq, pick)
      end
      return wrk.format(method, path and fill(path, seq, pick) or nil, h, body and fill(body, seq, pick) or nil)
   end
else
   wrk.method = method
   wrk.body = body
   if path then wrk.path = path end
   for name, value in pairs(headers) do
      wrk.headers[name] = value
   end
end

if count_statuses then
   function response(status, response_headers, response_body)
      statuses[status] = (statuses[status] or 0) + 1
   end
end

function done(summary, latency, requests)
   io.write(string.format("bench-latency-us: 99.9 %d\n", latency:percentile(99.9)))
   if pool_size > 0 then
      -- Thread t's last item was start + (draws_t - 1) * T + t - 1: below start + draws_t * T.
      local most = 0
      for _, thread in ipairs(threads) do
         most = math.max(most, thread:get("draws") or 0)
      end
      io.write(string.format("bench-pool-next: %d\n", pool_start + most * thread_count))
   end
   if count_statuses then
      local total = {}
      for _, thread in ipairs(threads) do
         for status, n in pairs(thread:get("statuses") or {}) do
            total[status] = (total[status] or 0) + n
         end
      end
      for status, n in pairs(total) do
         io.write(string.format("bench-status: %d %d\n", status, n))
      end
   end
end
