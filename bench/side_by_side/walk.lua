-- wrk script for bench/side_by_side.sh: the same distinct PATCHes as the manifest
-- (job-0000001 .. job-N, configs, in a cycle; wrk runs for a duration, not a count).
local n_total = tonumber(os.getenv("SBS_N") or "100000")
local token = os.getenv("SBS_TOKEN") or "none"
local body = '{"taskTimeout":600,"jobTimeout":7200,"isTestJob":false}'
local headers = {["Authorization"] = token, ["Content-Type"] = "application/json", ["Accept"] = "*/*"}
local sent = 0
request = function()
  sent = sent % n_total + 1
  return wrk.format("PATCH", string.format("/v1/customer/jobs/job-%07d/configs", sent), headers, body)
end
