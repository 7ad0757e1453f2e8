-- wrk script: the request of a benchmark target, read from the environment by bench/load.py.
--
--   BENCH_METHOD   GET, POST, ... (default GET)
--   BENCH_HEADERS  "Name: value" lines separated by newlines
--   BENCH_BODY     request body (unset: none)
--   BENCH_RUN      a prefix unique to this wrk run
--   BENCH_POOLS    a file of "NAME<tab>value" lines (unset: no pools)
--   BENCH_THREADS  wrk's thread count (-t), to interleave the threads over the pools
--
-- "{seq}" in a header value or in the body becomes "<run>-<thread>-<n>", distinct for every request
-- of every thread. "{NAME}" becomes an item of the pool NAME: request n of thread t (of T) takes item
-- ((n - 1) * T + t - 1) mod size, the same index in every pool, so the requests in flight at one moment
-- use different items. Without "{seq}" or pools the request is built once and wrk sends it as is (no
-- Lua per request), which keeps the load generator as cheap as plain wrk.

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local run = os.getenv("BENCH_RUN") or "run"
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1") or 1
local headers = {}
local distinct = body ~= nil and body:find("{seq}", 1, true) ~= nil

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

local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("thread_no", threads)
end

if distinct then
   local prefix
   local n = 0

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
      n = n + 1
      local seq = prefix .. n
      local pick = 1
      if pool_size > 0 then
         pick = ((n - 1) * thread_count + (thread_no or 1) - 1) % pool_size + 1
      end
      local h = {}
      for name, value in pairs(headers) do
         h[name] = fill(value, seq, pick)
      end
      return wrk.format(method, nil, h, body and fill(body, seq, pick) or nil)
   end
else
   wrk.method = method
   wrk.body = body
   for name, value in pairs(headers) do
      wrk.headers[name] = value
   end
end
