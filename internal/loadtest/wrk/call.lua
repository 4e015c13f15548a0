-- tools/call echo, each thread on its own half of the sessions in
-- $SIDS_FILE, request ids increasing per thread (unique in flight).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local sids, token, n = {}, os.getenv("TOKEN"), 0
function init(args)
  local all = {}
  for line in io.lines(os.getenv("SIDS_FILE")) do all[#all + 1] = line end
  for i = tid, #all, 2 do sids[#sids + 1] = all[i] end
end
function request()
  n = n + 1
  local body = '{"jsonrpc":"2.0","id":' .. n .. ',"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Accept"] = "application/json, text/event-stream",
    ["Authorization"] = "Bearer " .. token, ["Mcp-Session-Id"] = sids[(n % #sids) + 1], ["Mcp-Protocol-Version"] = "2025-06-18"}, body)
end
local shown = 0
function response(status, headers, body)
  if (status ~= 200 or not string.find(body, "Echo: hello", 1, true)) and shown < 2 then
    shown = shown + 1
    io.write("unexpected: ", status, " ", body, "\n")
  end
end
