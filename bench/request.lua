-- wrk script: the request of a benchmark target, read from the environment by bench/load.py.
--
--   BENCH_METHOD   GET, POST, ... (default GET)
--   BENCH_HEADERS  "Name: value" lines separated by newlines
--   BENCH_BODY     request body (unset: none)
--   BENCH_RUN      a prefix unique to this wrk run
--
-- "{seq}" in a header value or in the body becomes "<run>-<thread>-<n>", distinct for every request
-- of every thread. Without "{seq}" the request is built once and wrk sends it as is (no Lua per
-- request), which keeps the load generator as cheap as plain wrk.

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local run = os.getenv("BENCH_RUN") or "run"
local headers = {}
local distinct = body ~= nil and body:find("{seq}", 1, true) ~= nil

for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
   local name, value = line:match("^([^:]+):%s*(.-)%s*$")
   if name then
      headers[name] = value
      if value:find("{seq}", 1, true) then distinct = true end
   end
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

   function request()
      n = n + 1
      local seq = prefix .. n
      local h = {}
      for name, value in pairs(headers) do
         h[name] = value:gsub("{seq}", seq)
      end
      return wrk.format(method, nil, h, body and (body:gsub("{seq}", seq)) or nil)
   end
else
   wrk.method = method
   wrk.body = body
   for name, value in pairs(headers) do
      wrk.headers[name] = value
   end
end
